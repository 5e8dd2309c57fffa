//! The tokenise floor: the least any CSV engine in wasm must do with a file's bytes. The host
//! allocates a buffer in wasm memory (`alloc`), copies the file into it, and `tokenise` runs
//! csv-core's record reader over it, counting records and fields. No typing, no allocation per
//! row. Raw exports (no wasm-bindgen), so the bench instantiates it with WebAssembly directly.
#![no_std]
extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use csv_core::{ReadRecordResult, Reader};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

// A bump allocator over wasm memory.grow: the floor makes one big allocation per run.
struct Bump;
static NEXT: AtomicU64 = AtomicU64::new(0);
unsafe impl core::alloc::GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        let page = 65536u64;
        let mut next = NEXT.load(Ordering::Relaxed);
        if next == 0 {
            next = core::arch::wasm32::memory_size(0) as u64 * page;
        }
        let align = layout.align() as u64;
        let start = (next + align - 1) / align * align;
        let end = start + layout.size() as u64;
        let have = core::arch::wasm32::memory_size(0) as u64 * page;
        if end > have {
            let pages = (end - have + page - 1) / page;
            if core::arch::wasm32::memory_grow(0, pages as usize) == usize::MAX {
                return core::ptr::null_mut();
            }
        }
        NEXT.store(end, Ordering::Relaxed);
        start as *mut u8
    }
    unsafe fn dealloc(&self, _: *mut u8, _: core::alloc::Layout) {}
}
#[global_allocator]
static GLOBAL: Bump = Bump;

static mut FIELDS: u64 = 0;

/// A buffer of `len` bytes in wasm memory for the host to copy the file into.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut v: Vec<u8> = Vec::with_capacity(len);
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p
}

/// Forgets every allocation (the next run reuses the same memory).
#[no_mangle]
pub extern "C" fn reset() {
    NEXT.store(0, Ordering::Relaxed);
}

/// Tokenises `len` bytes at `ptr` as CSV; returns the number of records (fields via `fields`).
#[no_mangle]
pub extern "C" fn tokenise(ptr: *const u8, len: usize) -> u64 {
    let mut input = unsafe { core::slice::from_raw_parts(ptr, len) };
    let mut reader = Reader::new();
    let mut out = [0u8; 1 << 16];
    let mut ends = [0usize; 256];
    let (mut records, mut fields) = (0u64, 0u64);
    loop {
        let (res, nin, _, nend) = reader.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        match res {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                // A record longer than the buffers: not in the bench's data; counted as broken.
                return u64::MAX;
            }
            ReadRecordResult::Record => {
                records += 1;
                fields += nend as u64;
            }
            ReadRecordResult::End => break,
        }
    }
    unsafe { FIELDS = fields };
    records
}

/// The number of fields the last `tokenise` saw.
#[no_mangle]
pub extern "C" fn fields() -> u64 {
    unsafe { FIELDS }
}
