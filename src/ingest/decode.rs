//! Encodings: which one a file is in, decided from its first bytes, and streaming decoders that
//! turn chunks of it into UTF-8 for the tokenizer.
//!
//! UTF-8 (with or without BOM) needs no decoding: it goes to the tokenizer as it is and each
//! record is checked as it is stored. UTF-16 with BOM is decoded here with std. GB18030, the
//! superset of the GBK encoding that Chinese wallet exports use, needs tables of ~24,000
//! characters: they come from `encoding_rs` with the `legacy-encodings` feature (the CLI, native
//! tests). Without it (the wasm build: the browser has those tables already) such a file is
//! recognised all the same and refused with [`ErrorKind::NeedsDecoding`]; the host decodes it
//! (`TextDecoder`) and streams the UTF-8 text in instead.
use crate::error::{Error, ErrorKind, Result};

/// The encoding of a file and what its first bytes said about it.
pub(super) struct Detected {
    pub decoder: Decoder,
    pub encoding: &'static str,
    /// Bytes at the start that are not text (a byte-order mark).
    pub skip: usize,
    /// A warning to show when the bytes are not valid in any encoding we know.
    pub warning: Option<String>,
}

/// Decides the encoding from the first bytes of a file (`complete`: they are the whole file).
pub(super) fn detect(head: &[u8], complete: bool) -> Result<Detected> {
    let detected = |decoder, encoding, skip| Detected {
        decoder,
        encoding,
        skip,
        warning: None,
    };
    if let Some(format) = super::magic::recognise(head) {
        return Err(Error::new(ErrorKind::NotCsv { format }));
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Ok(detected(Decoder::Utf8, "UTF-8", 3));
    }
    if head.starts_with(b"\xFF\xFE") {
        return Ok(detected(Decoder::utf16(false), "UTF-16LE", 2));
    }
    if head.starts_with(b"\xFE\xFF") {
        return Ok(detected(Decoder::utf16(true), "UTF-16BE", 2));
    }
    if let Some(byte) = find_binary(head) {
        return Err(Error::new(ErrorKind::NotText { byte }));
    }
    // A chunk boundary may cut a character in two: judge the head up to its last line break.
    let judged = match head.iter().rposition(|&b| b == b'\n') {
        Some(newline) if !complete => &head[..newline],
        _ => head,
    };
    if std::str::from_utf8(judged).is_ok() {
        return Ok(detected(Decoder::Utf8, "UTF-8", 0));
    }
    if is_gb18030(judged) {
        return gb18030();
    }
    Ok(Detected {
        warning: Some("the file is not valid UTF-8; unreadable bytes were replaced by �".into()),
        ..detected(Decoder::Utf8, "UTF-8", 0)
    })
}

#[cfg(feature = "legacy-encodings")]
fn gb18030() -> Result<Detected> {
    Ok(Detected {
        decoder: Decoder::Gb18030(Box::new(
            encoding_rs::GB18030.new_decoder_without_bom_handling(),
        )),
        encoding: "GB18030",
        skip: 0,
        warning: None,
    })
}

#[cfg(not(feature = "legacy-encodings"))]
fn gb18030() -> Result<Detected> {
    Err(Error::new(ErrorKind::NeedsDecoding {
        encoding: "GB18030".into(),
    }))
}

/// Turns the bytes of a file, chunk by chunk, into UTF-8.
pub(super) enum Decoder {
    /// Already UTF-8: passed through; each record is validated when stored.
    Utf8,
    Utf16 {
        big_endian: bool,
        /// The first byte of a code unit cut by a chunk boundary.
        odd_byte: Option<u8>,
        /// A high surrogate waiting for its low half.
        high: Option<u16>,
        had_errors: bool,
    },
    #[cfg(feature = "legacy-encodings")]
    Gb18030(Box<encoding_rs::Decoder>),
}

impl Decoder {
    fn utf16(big_endian: bool) -> Decoder {
        Decoder::Utf16 {
            big_endian,
            odd_byte: None,
            high: None,
            had_errors: false,
        }
    }

    /// Decodes `input` (`last`: the end of the file follows). Returns UTF-8 bytes, borrowed from
    /// `input` or written into `buffer`, and whether bytes were replaced by U+FFFD.
    pub fn decode<'a>(
        &mut self,
        input: &'a [u8],
        last: bool,
        buffer: &'a mut Vec<u8>,
    ) -> (&'a [u8], bool) {
        match self {
            Decoder::Utf8 => (input, false),
            Decoder::Utf16 {
                big_endian,
                odd_byte,
                high,
                had_errors,
            } => {
                buffer.clear();
                buffer.reserve(input.len() * 3 / 2 + 8);
                let push = |c: char, buffer: &mut Vec<u8>| {
                    let mut utf8 = [0; 4];
                    buffer.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                };
                let mut bytes = input;
                let mut units = Vec::new();
                if let Some(first) = odd_byte.take() {
                    match bytes.split_first() {
                        Some((&second, rest)) => {
                            units.push(unit(*big_endian, [first, second]));
                            bytes = rest;
                        }
                        None => *odd_byte = Some(first),
                    }
                }
                let pairs = bytes.chunks_exact(2);
                if let [odd] = pairs.remainder() {
                    *odd_byte = Some(*odd);
                }
                let units = units
                    .into_iter()
                    .chain(pairs.map(|pair| unit(*big_endian, [pair[0], pair[1]])));
                for u in units {
                    if let Some(h) = high.take() {
                        if (0xDC00..=0xDFFF).contains(&u) {
                            let c =
                                0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                            push(char::from_u32(c).unwrap_or('\u{FFFD}'), buffer);
                            continue;
                        }
                        *had_errors = true;
                        push('\u{FFFD}', buffer);
                    }
                    match u {
                        0xD800..=0xDBFF => *high = Some(u),
                        0xDC00..=0xDFFF => {
                            *had_errors = true;
                            push('\u{FFFD}', buffer);
                        }
                        _ => push(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}'), buffer),
                    }
                }
                if last {
                    // An unpaired high surrogate, or an odd byte, at the very end.
                    for _ in high
                        .take()
                        .into_iter()
                        .chain(odd_byte.take().map(u16::from))
                    {
                        *had_errors = true;
                        push('\u{FFFD}', buffer);
                    }
                }
                (buffer.as_slice(), *had_errors)
            }
            #[cfg(feature = "legacy-encodings")]
            Decoder::Gb18030(decoder) => {
                buffer.clear();
                let mut input = input;
                let mut had_errors = false;
                loop {
                    let needed = decoder
                        .max_utf8_buffer_length(input.len())
                        .unwrap_or(input.len() * 3 + 16);
                    let start = buffer.len();
                    buffer.resize(start + needed.max(16), 0);
                    let (result, read, written, errors) =
                        decoder.decode_to_utf8(input, &mut buffer[start..], last);
                    buffer.truncate(start + written);
                    had_errors |= errors;
                    input = &input[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
                (buffer.as_slice(), had_errors)
            }
        }
    }
}

fn unit(big_endian: bool, pair: [u8; 2]) -> u16 {
    if big_endian {
        u16::from_be_bytes(pair)
    } else {
        u16::from_le_bytes(pair)
    }
}

/// Whether the bytes are well-formed GB18030 as the WHATWG Encoding Standard decodes it (the
/// browser's `TextDecoder('gb18030')`, and `encoding_rs`): ASCII, 0x80 (€), two bytes (lead
/// 0x81-0xFE, trail 0x40-0x7E or 0x80-0xFE: every such pair is mapped) or four bytes (0x81-0xFE,
/// 0x30-0x39, 0x81-0xFE, 0x30-0x39) whose pointer falls in a mapped range. Bytes that pass decode
/// without a single replacement character, so this needs no tables.
pub(super) fn is_gb18030(bytes: &[u8]) -> bool {
    let lead = 0x81..=0xFE;
    let digit = 0x30..=0x39;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b <= 0x80 {
            i += 1;
            continue;
        }
        if !lead.contains(&b) {
            return false;
        }
        match bytes.get(i + 1) {
            Some(&t) if (0x40..=0x7E).contains(&t) || (0x80..=0xFE).contains(&t) => i += 2,
            Some(&t) if digit.contains(&t) => match (bytes.get(i + 2), bytes.get(i + 3)) {
                (Some(&c), Some(&d)) if lead.contains(&c) && digit.contains(&d) => {
                    let pointer = (u32::from(b) - 0x81) * 12600
                        + (u32::from(t) - 0x30) * 1260
                        + (u32::from(c) - 0x81) * 10
                        + (u32::from(d) - 0x30);
                    if (pointer > 39419 && pointer < 189_000) || pointer > 1_237_575 {
                        return false;
                    }
                    i += 4;
                }
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

/// A NUL byte, or many control characters, in the first kilobytes means a binary file (an image,
/// a zip, a spreadsheet saved as .xlsx) rather than text.
fn find_binary(bytes: &[u8]) -> Option<u64> {
    let head = &bytes[..bytes.len().min(8192)];
    if let Some(position) = head.iter().position(|&b| b == 0) {
        return Some(position as u64);
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    (control * 20 > head.len().max(1)).then_some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `bytes` in chunks of `chunk` bytes, as a stream would.
    fn decode_in_chunks(mut decoder: Decoder, bytes: &[u8], chunk: usize) -> (String, bool) {
        let mut out = Vec::new();
        let mut errors = false;
        let mut buffer = Vec::new();
        let chunks: Vec<&[u8]> = bytes.chunks(chunk.max(1)).collect();
        for (i, piece) in chunks.iter().enumerate() {
            let (text, had_errors) = decoder.decode(piece, i + 1 == chunks.len(), &mut buffer);
            out.extend_from_slice(text);
            errors |= had_errors;
        }
        if chunks.is_empty() {
            let (text, had_errors) = decoder.decode(&[], true, &mut buffer);
            out.extend_from_slice(text);
            errors |= had_errors;
        }
        (
            String::from_utf8(out).expect("decoders write UTF-8"),
            errors,
        )
    }

    #[test]
    fn utf16_with_an_unpaired_surrogate_and_an_odd_last_byte() {
        let mut bytes: Vec<u8> = "a,b\n1,2\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        bytes.extend([0x00, 0xD8, b'3', 0x00, b',', 0x00, b'4', 0x00, b'\n']);
        for chunk in [1, 2, 3, 5, 64] {
            let (text, errors) = decode_in_chunks(Decoder::utf16(false), &bytes, chunk);
            assert_eq!(text, "a,b\n1,2\n\u{FFFD}3,4\u{FFFD}", "chunks of {chunk}");
            assert!(errors);
        }
    }

    /// Byte strings that stress GB18030's structure: mostly lead, trail and digit bytes.
    #[cfg(feature = "legacy-encodings")]
    fn random_gb_like(seed: &mut u64, len: usize) -> Vec<u8> {
        const BYTES: &[u8] = b"\x81\x82\x84\x85\x8F\x90\x95\xA1\xE3\xE4\xFD\xFE\xFF\x80\x7F\x40\x7E\x30\x32\x35\x39a,\n";
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                BYTES[(*seed % BYTES.len() as u64) as usize]
            })
            .collect()
    }

    /// The table-free check of the wasm build accepts exactly what encoding_rs (and the
    /// browser's TextDecoder, same standard) decodes without a replacement.
    #[cfg(feature = "legacy-encodings")]
    #[test]
    fn the_gb18030_check_agrees_with_encoding_rs() {
        let clean = |bytes: &[u8]| !encoding_rs::GB18030.decode_without_bom_handling(bytes).1;
        for lead in 0..=255u8 {
            for trail in 0..=255u8 {
                let pair = [lead, trail];
                assert_eq!(is_gb18030(&pair), clean(&pair), "{pair:02X?}");
            }
        }
        for first in [0x81u8, 0x84, 0x85, 0x8F, 0x90, 0xE3, 0xE4, 0xFD, 0xFE] {
            for second in 0x2F..=0x3A {
                for third in [0x80u8, 0x81, 0x99, 0xFE, 0xFF] {
                    for fourth in 0x2F..=0x3A {
                        let quad = [first, second, third, fourth];
                        assert_eq!(is_gb18030(&quad), clean(&quad), "{quad:02X?}");
                    }
                }
            }
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2000 {
            let bytes = random_gb_like(&mut seed, len % 13);
            assert_eq!(is_gb18030(&bytes), clean(&bytes), "{bytes:02X?}");
        }
    }

    /// UTF-16 is decoded without encoding_rs, with the same result, however the bytes are cut
    /// into chunks; GB18030 streams through encoding_rs the same way.
    #[cfg(feature = "legacy-encodings")]
    #[test]
    fn streaming_decoders_agree_with_encoding_rs_at_any_chunk_size() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for len in 0..1500 {
            let mut bytes = random_gb_like(&mut seed, len % 17);
            for (i, b) in bytes.iter_mut().enumerate() {
                if i % 4 == 1 && *b > 0xF0 {
                    *b = 0xD8 | (*b & 7); // surrogates, paired or not
                }
            }
            let chunk = 1 + len % 5;
            for (ours, theirs) in [
                (
                    decode_in_chunks(Decoder::utf16(false), &bytes, chunk),
                    encoding_rs::UTF_16LE.decode_without_bom_handling(&bytes),
                ),
                (
                    decode_in_chunks(Decoder::utf16(true), &bytes, chunk),
                    encoding_rs::UTF_16BE.decode_without_bom_handling(&bytes),
                ),
                (
                    decode_in_chunks(gb18030().unwrap().decoder, &bytes, chunk),
                    encoding_rs::GB18030.decode_without_bom_handling(&bytes),
                ),
            ] {
                assert_eq!(ours.0, theirs.0, "{bytes:02X?} in chunks of {chunk}");
                assert_eq!(ours.1, theirs.1, "{bytes:02X?} in chunks of {chunk}");
            }
        }
    }
}
