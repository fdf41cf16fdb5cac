//! Compression in Rust for `node:zlib` (js/node/zlib.js): deflate, inflate,
//! gzip, gunzip, raw deflate, unzip (gzip or zlib, told by the header) and
//! brotli, as streams. A stream in progress is a resource: each
//! `process` call feeds it input with a flush mode and returns the output
//! made so far. Deflate-family streams use flate2's low-level state on its
//! zlib-rs backend (zlib's algorithm, so the bytes are Node's; Node's flush
//! modes map onto it exactly), with the gzip wrapping done here; brotli uses
//! the brotli crate's writers.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;

use deno_core::{op2, OpState, Resource, ResourceId};
use deno_error::JsErrorBox;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Node's stream kinds (`zlib.constants.DEFLATE` …).
const DEFLATE: u8 = 1;
const INFLATE: u8 = 2;
const GZIP: u8 = 3;
const GUNZIP: u8 = 4;
const DEFLATERAW: u8 = 5;
const INFLATERAW: u8 = 6;
const UNZIP: u8 = 7;
const BROTLI_DECODE: u8 = 8;
const BROTLI_ENCODE: u8 = 9;

/// Node's flush modes.
const Z_SYNC_FLUSH: u8 = 2;
const Z_FULL_FLUSH: u8 = 3;
const Z_FINISH: u8 = 4;

const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];

/// Most output one call may make (workerd's default `maxOutputLength`): a
/// small input that inflates past it is refused, not held in memory that
/// the isolate's limit does not see until it reaches JavaScript.
const MAX_OUTPUT: usize = 128 * 1024 * 1024;
/// Longest gzip header kept while its name and comment fields arrive.
const MAX_GZIP_HEADER: usize = 64 * 1024;

fn too_much_output() -> JsErrorBox {
    JsErrorBox::range_error("Memory limit exceeded")
}

/// An error as Node's zlib reports it: the message, its `code` and `errno`.
fn zlib_error(message: &str, code: &str) -> JsErrorBox {
    JsErrorBox::generic(format!("{code}|{message}"))
}

fn data_error(message: &str) -> JsErrorBox {
    zlib_error(message, "Z_DATA_ERROR")
}

fn truncated() -> JsErrorBox {
    zlib_error("unexpected end of file", "Z_BUF_ERROR")
}

/// Where a gzip member's decoding is.
enum GzipRead {
    /// Collecting the header (its length depends on its flags).
    Header(Vec<u8>),
    Body,
    /// Collecting the 8-byte trailer: CRC-32 and size.
    Trailer(Vec<u8>),
    Done,
}

enum Codec {
    Compress {
        state: Compress,
        /// gzip wrapping: the CRC and size of what was fed, the header sent.
        gzip: Option<(crc32fast::Hasher, u32, bool)>,
        finished: bool,
    },
    Decompress {
        state: Decompress,
        gzip: Option<(GzipRead, crc32fast::Hasher, u32)>,
        /// Unzip: undecided until the first two bytes arrive.
        undecided: Option<Vec<u8>>,
        /// A zlib stream (its header is checked as zlib checks it).
        wrapped: bool,
        finished: bool,
    },
    // Boxed: the brotli writers are far larger than the deflate states.
    BrotliEncode(Option<Box<brotli::CompressorWriter<Vec<u8>>>>),
    BrotliDecode(Option<Box<brotli::DecompressorWriter<Vec<u8>>>>),
}

struct ZlibResource(RefCell<Codec>);

impl Resource for ZlibResource {
    fn name(&self) -> Cow<'_, str> {
        "ridgeZlib".into()
    }
}

/// Makes a stream: `kind` is Node's constant, `level` -1..9 (brotli: 0..11),
/// `window_bits` 8..15 (brotli: 10..24).
#[op2(fast)]
#[smi]
pub fn op_ridge_zlib_create(
    state: &mut OpState,
    kind: u32,
    level: i32,
    window_bits: u32,
) -> Result<ResourceId, JsErrorBox> {
    let compression = || match level {
        -1 => Compression::default(),
        level => Compression::new(level.clamp(0, 9) as u32),
    };
    let codec = match kind as u8 {
        DEFLATE => Codec::Compress {
            state: Compress::new(compression(), true),
            gzip: None,
            finished: false,
        },
        DEFLATERAW => Codec::Compress {
            state: Compress::new(compression(), false),
            gzip: None,
            finished: false,
        },
        GZIP => Codec::Compress {
            state: Compress::new(compression(), false),
            gzip: Some((crc32fast::Hasher::new(), 0, false)),
            finished: false,
        },
        INFLATE | INFLATERAW | GUNZIP | UNZIP => Codec::Decompress {
            state: Decompress::new(kind as u8 == INFLATE),
            gzip: (kind as u8 == GUNZIP)
                .then(|| (GzipRead::Header(Vec::new()), crc32fast::Hasher::new(), 0)),
            undecided: (kind as u8 == UNZIP).then(Vec::new),
            wrapped: kind as u8 == INFLATE,
            finished: false,
        },
        BROTLI_ENCODE => {
            let quality = if level < 0 { 11 } else { level.min(11) as u32 };
            let window = window_bits.clamp(10, 24);
            Codec::BrotliEncode(Some(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                64 * 1024,
                quality,
                window,
            ))))
        }
        BROTLI_DECODE => Codec::BrotliDecode(Some(Box::new(brotli::DecompressorWriter::new(
            Vec::new(),
            64 * 1024,
        )))),
        _ => return Err(JsErrorBox::range_error(format!("Bad zlib mode: {kind}"))),
    };
    Ok(state.resource_table.add(ZlibResource(RefCell::new(codec))))
}

/// Feeds `input` with Node's `flush` mode; returns the output made.
#[op2]
#[buffer]
pub fn op_ridge_zlib_process(
    state: &mut OpState,
    #[smi] rid: ResourceId,
    #[buffer] input: &[u8],
    #[smi] flush: u32,
) -> Result<Vec<u8>, JsErrorBox> {
    let resource = state
        .resource_table
        .get::<ZlibResource>(rid)
        .map_err(JsErrorBox::from_err)?;
    let mut codec = resource.0.borrow_mut();
    let flush = flush as u8;
    match &mut *codec {
        Codec::Compress {
            state,
            gzip,
            finished,
        } => compress(state, gzip, finished, input, flush),
        Codec::Decompress {
            state,
            gzip,
            undecided,
            wrapped,
            finished,
        } => {
            if let Some(seen) = undecided {
                // Unzip: gzip when the stream starts with its magic bytes.
                seen.extend_from_slice(input);
                if seen.len() < 2 && flush != Z_FINISH {
                    return Ok(Vec::new());
                }
                let buffered = std::mem::take(seen);
                *undecided = None;
                if buffered.starts_with(&GZIP_HEADER[..2]) {
                    *state = Decompress::new(false);
                    *gzip = Some((GzipRead::Header(Vec::new()), crc32fast::Hasher::new(), 0));
                } else {
                    *state = Decompress::new(true);
                    *wrapped = true;
                }
                return decompress(state, gzip, *wrapped, finished, &buffered, flush);
            }
            decompress(state, gzip, *wrapped, finished, input, flush)
        }
        Codec::BrotliEncode(writer) => {
            let Some(encoder) = writer.as_mut() else {
                return Ok(Vec::new());
            };
            encoder
                .write_all(input)
                .map_err(|e| zlib_error(&e.to_string(), "ERR_BROTLI_COMPRESSION_FAILED"))?;
            if flush == Z_FINISH {
                return Ok(writer.take().expect("checked").into_inner());
            }
            if flush == Z_SYNC_FLUSH || flush == Z_FULL_FLUSH {
                encoder
                    .flush()
                    .map_err(|e| zlib_error(&e.to_string(), "ERR_BROTLI_COMPRESSION_FAILED"))?;
            }
            Ok(std::mem::take(encoder.get_mut()))
        }
        Codec::BrotliDecode(writer) => {
            let Some(decoder) = writer.as_mut() else {
                return Ok(Vec::new());
            };
            // In slices, so that a bomb is caught before it is all in memory.
            for slice in input.chunks(64 * 1024) {
                decoder.write_all(slice).map_err(|_| {
                    zlib_error("Compression failed", "ERR_BROTLI_DECOMPRESSION_FAILED")
                })?;
                if decoder.get_ref().len() > MAX_OUTPUT {
                    return Err(too_much_output());
                }
            }
            if flush == Z_FINISH {
                let mut decoder = writer.take().expect("checked");
                decoder.close().map_err(|_| truncated())?;
                return decoder.into_inner().map_err(|_| truncated());
            }
            Ok(std::mem::take(decoder.get_mut()))
        }
    }
}

fn compress(
    state: &mut Compress,
    gzip: &mut Option<(crc32fast::Hasher, u32, bool)>,
    finished: &mut bool,
    input: &[u8],
    flush: u8,
) -> Result<Vec<u8>, JsErrorBox> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    if *finished {
        return Ok(out);
    }
    if let Some((crc, size, header_sent)) = gzip {
        if !*header_sent {
            out.extend_from_slice(&GZIP_HEADER);
            *header_sent = true;
        }
        crc.update(input);
        *size = size.wrapping_add(input.len() as u32);
    }
    let mode = match flush {
        Z_FINISH => FlushCompress::Finish,
        Z_SYNC_FLUSH => FlushCompress::Sync,
        Z_FULL_FLUSH => FlushCompress::Full,
        _ => FlushCompress::None,
    };
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let before_in = state.total_in();
        let before_out = state.total_out();
        let status = state
            .compress_vec(&input[consumed..], &mut out, mode)
            .map_err(|e| zlib_error(&e.to_string(), "Z_STREAM_ERROR"))?;
        consumed += (state.total_in() - before_in) as usize;
        let progressed = state.total_out() != before_out || state.total_in() != before_in;
        match status {
            Status::StreamEnd => {
                *finished = true;
                break;
            }
            // Go on while it moves and has more to give: input left, output
            // space filled (more may be waiting), or a finish not yet done.
            // (A flush with room to spare is complete: calling again would
            // add another empty block.)
            _ if progressed
                && (consumed < input.len()
                    || out.len() == out.capacity()
                    || matches!(mode, FlushCompress::Finish)) =>
            {
                continue
            }
            _ => break,
        }
    }
    if *finished {
        if let Some((crc, size, _)) = gzip.take() {
            out.extend_from_slice(&crc.finalize().to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
        }
    }
    Ok(out)
}

/// The length of a complete gzip header at the start of `bytes`, if there
/// is one yet; an error when it is not a gzip header.
fn gzip_header_length(bytes: &[u8]) -> Result<Option<usize>, JsErrorBox> {
    if bytes.len() < 10 {
        return match bytes.len() >= 2 && !bytes.starts_with(&GZIP_HEADER[..2]) {
            true => Err(data_error("incorrect header check")),
            false => Ok(None),
        };
    }
    if !bytes.starts_with(&GZIP_HEADER[..2]) {
        return Err(data_error("incorrect header check"));
    }
    if bytes[2] != 8 {
        return Err(data_error("unknown compression method"));
    }
    let flags = bytes[3];
    let mut at = 10;
    if flags & 4 != 0 {
        let Some(extra) = bytes.get(at..at + 2) else {
            return Ok(None);
        };
        at += 2 + u16::from_le_bytes([extra[0], extra[1]]) as usize;
    }
    for flag in [8, 16] {
        if flags & flag != 0 {
            match bytes
                .get(at..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
            {
                Some(end) => at += end + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    Ok((bytes.len() >= at).then_some(at))
}

fn decompress(
    state: &mut Decompress,
    gzip: &mut Option<(GzipRead, crc32fast::Hasher, u32)>,
    wrapped: bool,
    finished: &mut bool,
    input: &[u8],
    flush: u8,
) -> Result<Vec<u8>, JsErrorBox> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(MAX_OUTPUT) + 64);
    let mut input = input;
    // gzip: take the header first.
    if let Some((GzipRead::Header(seen), _, _)) = gzip {
        seen.extend_from_slice(input);
        if seen.len() > MAX_GZIP_HEADER {
            return Err(data_error("invalid gzip header"));
        }
        match gzip_header_length(seen)? {
            Some(length) => {
                let body = seen.split_off(length);
                gzip.as_mut().expect("gzip").0 = GzipRead::Body;
                let produced = decompress(state, gzip, false, finished, &body, flush)?;
                return Ok(produced);
            }
            None if flush == Z_FINISH => return Err(truncated()),
            None => return Ok(out),
        }
    }
    if let Some((GzipRead::Trailer(seen), crc, size)) = gzip {
        let wanted = 8usize.saturating_sub(seen.len()).min(input.len());
        seen.extend_from_slice(&input[..wanted]);
        if finish_gzip(seen, crc, *size, finished, flush)? {
            gzip.as_mut().expect("gzip").0 = GzipRead::Done;
        }
        return Ok(out);
    }
    if *finished {
        return Ok(out);
    }
    if wrapped && state.total_in() == 0 {
        check_zlib_header(input)?;
    }
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(16 * 1024));
        }
        let before_in = state.total_in();
        let before_out = state.total_out();
        let status = state
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| {
                let message = e.to_string();
                data_error(match message.as_str() {
                    m if m.contains("header") => "incorrect header check",
                    _ => "invalid block type",
                })
            })?;
        let consumed = (state.total_in() - before_in) as usize;
        input = &input[consumed..];
        let produced = state.total_out() != before_out;
        if out.len() > MAX_OUTPUT {
            return Err(too_much_output());
        }
        match status {
            Status::StreamEnd => {
                *finished = true;
                break;
            }
            // Output space ran out, or input remains that it can still take.
            _ if produced || (consumed > 0 && !input.is_empty()) => continue,
            _ => break,
        }
    }
    if let Some((read, crc, size)) = gzip {
        crc.update(&out);
        *size = size.wrapping_add(out.len() as u32);
        if *finished {
            let trailer = input.to_vec();
            *finished = false;
            let done = finish_gzip(&trailer, crc, *size, finished, flush)?;
            *read = if done {
                GzipRead::Done
            } else {
                GzipRead::Trailer(trailer)
            };
            return Ok(out);
        }
    }
    if flush == Z_FINISH && !*finished {
        return Err(truncated());
    }
    Ok(out)
}

/// zlib's own checks of a zlib stream's two header bytes, with its
/// messages (flate2 reports them in other words).
fn check_zlib_header(input: &[u8]) -> Result<(), JsErrorBox> {
    let [cmf, flg, ..] = *input else {
        return Ok(());
    };
    if (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err(data_error("incorrect header check"));
    }
    if cmf & 0x0f != 8 {
        return Err(data_error("unknown compression method"));
    }
    if (cmf >> 4) + 8 > 15 {
        return Err(data_error("invalid window size"));
    }
    Ok(())
}

/// Checks a gzip trailer once its 8 bytes are there; `Ok(true)` when done.
fn finish_gzip(
    seen: &[u8],
    crc: &crc32fast::Hasher,
    size: u32,
    finished: &mut bool,
    flush: u8,
) -> Result<bool, JsErrorBox> {
    if seen.len() < 8 {
        return match flush == Z_FINISH {
            true => Err(truncated()),
            false => Ok(false),
        };
    }
    let expected_crc = u32::from_le_bytes([seen[0], seen[1], seen[2], seen[3]]);
    let expected_size = u32::from_le_bytes([seen[4], seen[5], seen[6], seen[7]]);
    if expected_crc != crc.clone().finalize() {
        return Err(data_error("incorrect data check"));
    }
    if expected_size != size {
        return Err(data_error("incorrect length check"));
    }
    *finished = true;
    Ok(true)
}

/// CRC-32 of `data`, continuing from `value` (`zlib.crc32`).
#[op2(fast)]
pub fn op_ridge_zlib_crc32(#[buffer] data: &[u8], value: u32) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(value);
    hasher.update(data);
    hasher.finalize()
}
