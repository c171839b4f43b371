//! Opening an input file: buffered (`file.buffer.size.bytes`) and, by extension, decompressed on
//! the fly: `.gz`, `.bz2`, `.lz4` (frame format), `.snappy` (framing format) and `.z` (Unix
//! `compress`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The decompression an input file's extension asks for.
fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The file's bytes as a buffered stream, decompressed as its extension says.
pub fn open(path: &Path, buffer_size: usize) -> std::io::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path)?;
    let raw = BufReader::with_capacity(buffer_size, file);
    Ok(match extension(path).as_str() {
        "gz" => Box::new(BufReader::with_capacity(
            buffer_size,
            flate2::bufread::MultiGzDecoder::new(raw),
        )),
        "bz2" => Box::new(BufReader::with_capacity(
            buffer_size,
            bzip2::bufread::MultiBzDecoder::new(raw),
        )),
        "lz4" => Box::new(BufReader::with_capacity(
            buffer_size,
            lz4::Decoder::new(raw)?,
        )),
        "snappy" => Box::new(BufReader::with_capacity(
            buffer_size,
            snap::read::FrameDecoder::new(raw),
        )),
        "z" => Box::new(std::io::Cursor::new(unlzw(raw)?)),
        _ => Box::new(raw),
    })
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// The most a `.Z` file may decompress to: it is decompressed in memory, whole.
const MAX_Z_OUTPUT: usize = 512 * 1024 * 1024;

/// Decompresses a Unix `compress` (.Z) stream: LZW with codes of 9 up to 16 bits, least
/// significant bit first; in block mode code 256 clears the table. As `compress` writes codes
/// in groups of eight, a change of code width skips to the end of the current group.
pub fn unlzw(mut input: impl Read) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    input.read_to_end(&mut data)?;
    if data.len() < 3 || data[0] != 0x1f || data[1] != 0x9d {
        return Err(invalid("not a .Z file (bad magic number)"));
    }
    let max_bits = u32::from(data[2] & 0x1f);
    let block_mode = data[2] & 0x80 != 0;
    if !(9..=16).contains(&max_bits) {
        return Err(invalid("a .Z file with an unsupported code width"));
    }
    let max_max_code = 1usize << max_bits;
    let total_bits = data.len() * 8;
    let mut prefix = vec![0u16; max_max_code];
    let mut suffix = vec![0u8; max_max_code];
    for (i, s) in suffix.iter_mut().enumerate().take(256) {
        *s = i as u8;
    }
    let mut out = Vec::with_capacity((data.len() * 3).min(MAX_Z_OUTPUT));
    let mut n_bits = 9u32;
    let mut max_code = (1usize << n_bits) - 1;
    let mut free_entry = if block_mode { 257 } else { 256 };
    let mut position = 24usize; // bits, counted from the file's start as `compress` does
    let mut old_code: Option<usize> = None;
    let mut final_char = 0u8;
    let mut stack = Vec::new();
    // Codes of one width are written in groups of eight (n_bits bytes), counted from where
    // that width began; a change of width skips the rest of the current group.
    let mut run_start = position;
    let align = |position: usize, run_start: usize, n_bits: u32| {
        let group = (n_bits as usize) << 3;
        let used = (position - run_start) % group;
        if used == 0 {
            position
        } else {
            position + group - used
        }
    };
    loop {
        if free_entry > max_code {
            position = align(position, run_start, n_bits);
            run_start = position;
            n_bits += 1;
            max_code = if n_bits == max_bits {
                max_max_code
            } else {
                (1usize << n_bits) - 1
            };
        }
        if position + n_bits as usize > total_bits {
            break;
        }
        let byte = position >> 3;
        let mut word = 0u32;
        for (i, b) in data[byte..].iter().take(3).enumerate() {
            word |= u32::from(*b) << (8 * i);
        }
        let code = ((word >> (position & 7)) & ((1 << n_bits) - 1)) as usize;
        position += n_bits as usize;
        let Some(previous) = old_code else {
            if code > 255 {
                return Err(invalid("corrupt .Z data: the first code is not a byte"));
            }
            final_char = code as u8;
            out.push(final_char);
            old_code = Some(code);
            continue;
        };
        if code == 256 && block_mode {
            free_entry = 256;
            position = align(position, run_start, n_bits);
            run_start = position;
            n_bits = 9;
            max_code = (1usize << n_bits) - 1;
            continue;
        }
        let in_code = code;
        stack.clear();
        let mut current = code;
        if current >= free_entry {
            // The KwKwK case: the code being defined right now.
            if current > free_entry {
                return Err(invalid("corrupt .Z data: a code beyond the table"));
            }
            stack.push(final_char);
            current = previous;
        }
        while current >= 256 {
            stack.push(suffix[current]);
            current = usize::from(prefix[current]);
            if stack.len() > max_max_code {
                return Err(invalid("corrupt .Z data: a cycle in the table"));
            }
        }
        final_char = suffix[current];
        stack.push(final_char);
        out.extend(stack.iter().rev());
        if out.len() > MAX_Z_OUTPUT {
            return Err(invalid(
                "a .Z file decompresses to more than 512 MiB; .Z files are decompressed in memory, so larger ones are refused",
            ));
        }
        if free_entry < max_max_code {
            prefix[free_entry] = previous as u16;
            suffix[free_entry] = final_char;
            free_entry += 1;
        }
        old_code = Some(in_code);
    }
    Ok(out)
}
