//! Decoding in a child process, for a decoder that can abort the process on a hostile file or
//! allocate beyond any limit Folio can give it.
//!
//! rav1d 1.1 (AVIF) offers only dav1d's C API, and a panic inside its `extern "C"` functions
//! cannot unwind: it aborts. heic-decoder (HEIC) is safe Rust, but allocates about 14 bytes a
//! pixel outside any limit. In the server either would put every request in flight at risk,
//! so both are decoded by the `folio` binary itself, started as a child (`folio __decode avif
//! …`): the file goes in on stdin, the pixels come back on stdout, and a child that dies is a
//! refused file. The child holds the same limits as every decoder, and a watchdog kills one
//! that runs too long. It runs on the blocking pool behind the same decode gate as the others,
//! so there are never more children than decode permits; HEIC children run one at a time (the
//! server's `Avatars` queues them before they take a permit), under a ceiling on their address
//! space.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use image::metadata::Orientation;

use super::formats;
use super::types::{Coverage, Decoded, Limits, Pixels, Rejection, Shrink, Square};

/// The subcommand the child runs. Not for people: `folio --help` does not list it.
pub const SUBCOMMAND: &str = "__decode";

/// A decode that takes longer is killed (a 12 MP AVIF or HEIC takes well under a second, a
/// 50 MP HEIC about three).
const DEADLINE: Duration = Duration::from_secs(30);
/// HEIC children run one at a time, so one that stalls holds up the others: a shorter leash.
const HEIC_DEADLINE: Duration = Duration::from_secs(10);

static HELPER: OnceLock<PathBuf> = OnceLock::new();

/// A HEIC child's address space, in allocation limits: a 50 MP picture needs about 700 MB
/// (2.7 × the default limit's 256 MB); past 4× the child dies, and the file is refused.
const HEIC_ADDRESS_SPACE: u64 = 4;

/// Names the `folio` binary that decodes in a child: the server's own executable, or in tests
/// the one cargo built. Until it is set, AVIF and HEIC uploads are refused as unsupported (415).
pub fn set_helper(path: PathBuf) {
    let _ = HELPER.set(path);
}

/// The formats decoded in a child, by the name the child is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Avif,
    Heic,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Avif => "avif",
            Kind::Heic => "heic",
        }
    }

    /// The format's name, as refusals say it.
    fn label(self) -> &'static str {
        match self {
            Kind::Avif => "AVIF",
            Kind::Heic => "HEIC",
        }
    }

    fn deadline(self) -> Duration {
        match self {
            Kind::Avif => DEADLINE,
            Kind::Heic => HEIC_DEADLINE,
        }
    }

    fn of(name: &str) -> Option<Kind> {
        [Kind::Avif, Kind::Heic]
            .into_iter()
            .find(|k| k.name() == name)
    }

    fn decode(self, bytes: &[u8], limits: &Limits, target: Shrink) -> Result<Decoded, Rejection> {
        match self {
            Kind::Avif => formats::avif::decode(bytes, limits, target),
            Kind::Heic => formats::heic::decode(bytes, limits, target),
        }
    }
}

/// The decoder for AVIF: in a child process.
pub(crate) fn decode_avif(
    bytes: &[u8],
    limits: &Limits,
    target: Shrink,
) -> Result<Decoded, Rejection> {
    decode_in_child(Kind::Avif, bytes, limits, target)
}

/// The decoder for HEIC: in a child process (which `Avatars` runs one at a time).
pub(crate) fn decode_heic(
    bytes: &[u8],
    limits: &Limits,
    target: Shrink,
) -> Result<Decoded, Rejection> {
    decode_in_child(Kind::Heic, bytes, limits, target)
}

fn decode_in_child(
    kind: Kind,
    bytes: &[u8],
    limits: &Limits,
    target: Shrink,
) -> Result<Decoded, Rejection> {
    let Some(helper) = HELPER.get() else {
        tracing::warn!(
            kind = kind.name(),
            "no decoder process is configured; refused"
        );
        return Err(Rejection::Unsupported(kind.label()));
    };
    let mut command = Command::new(helper);
    command
        .arg(SUBCOMMAND)
        .arg(kind.name())
        .args(encode_args(limits, target));
    if kind == Kind::Heic {
        // heic-decoder decodes a grid's tiles on rayon's threads; one is what a decode
        // permit stands for.
        command.env("RAYON_NUM_THREADS", "1");
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        // rav1d's abort message and an allocation failure's are not for the server's log; the
        // outcome is logged below.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start the decoder process");
            Rejection::Corrupt
        })?;
    let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(Rejection::Corrupt);
    };
    let child = Arc::new(Mutex::new(child));
    let (finished, watch) = mpsc::channel::<()>();
    let watched = child.clone();
    std::thread::spawn(move || {
        if watch.recv_timeout(kind.deadline()) == Err(mpsc::RecvTimeoutError::Timeout)
            && let Ok(mut child) = watched.lock()
        {
            tracing::warn!("the decoder process ran too long; killed");
            let _ = child.kill();
        }
    });
    // Written from the blocking thread while another reads, so neither pipe can fill up and
    // stall the other.
    let reply = std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = stdin.write_all(bytes);
        });
        let mut reply = Vec::new();
        // A picture within the limits, and its header; a child that sends more is wrong.
        let most = limits.max_alloc.saturating_add(64);
        let read = (&mut stdout).take(most).read_to_end(&mut reply);
        read.map(|_| reply)
    });
    // Closed, so a child still writing (more than a picture) fails and ends.
    drop(stdout);
    // Reaped without holding the lock, so the watchdog can still kill a child that lingers.
    let status = loop {
        match child.lock().map_err(|_| Rejection::Corrupt)?.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => break None,
        }
    };
    let _ = finished.send(());
    let reply = reply.map_err(|_| Rejection::Corrupt)?;
    match read_reply(&reply, limits) {
        Some(result) => result,
        None => {
            tracing::warn!(?status, "the decoder process failed on this file");
            Err(Rejection::Corrupt)
        }
    }
}

fn encode_args(limits: &Limits, target: Shrink) -> Vec<String> {
    let square = target
        .square
        .map_or_else(|| "-".to_owned(), |s| format!("{},{},{}", s.x, s.y, s.size));
    vec![
        limits.max_pixels.to_string(),
        limits.max_side.to_string(),
        limits.max_alloc.to_string(),
        target.keep.to_string(),
        square,
    ]
}

fn decode_args(args: &[String]) -> Option<(Limits, Shrink)> {
    let [max_pixels, max_side, max_alloc, keep, square] = args else {
        return None;
    };
    let square = match square.as_str() {
        "-" => None,
        text => {
            let mut parts = text.split(',').map(str::parse::<u32>);
            let (Some(Ok(x)), Some(Ok(y)), Some(Ok(size)), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            Some(Square { x, y, size })
        }
    };
    Some((
        Limits {
            max_pixels: max_pixels.parse().ok()?,
            max_side: max_side.parse().ok()?,
            max_alloc: max_alloc.parse().ok()?,
        },
        Shrink {
            keep: keep.parse().ok()?,
            square,
        },
    ))
}

/// The reply: `OK`, width, height, source width, source height (u32, big-endian), the EXIF
/// orientation, 3 or 4 channels, then the pixels; or `NO` and a rejection's code.
fn encode_reply(result: &Result<Decoded, Rejection>) -> Vec<u8> {
    match result {
        Ok(decoded) => {
            let (channels, pixels) = match &decoded.pixels {
                Pixels::Rgb(p) => (3u8, p),
                Pixels::Rgba(p) => (4u8, p),
            };
            let mut out = Vec::with_capacity(20 + pixels.len());
            out.extend_from_slice(b"OK");
            for n in [
                decoded.width,
                decoded.height,
                decoded.source.0,
                decoded.source.1,
            ] {
                out.extend_from_slice(&n.to_be_bytes());
            }
            out.push(decoded.orientation.to_exif());
            out.push(channels);
            out.extend_from_slice(pixels);
            out
        }
        Err(rejection) => vec![b'N', b'O', rejection_code(rejection)],
    }
}

fn read_reply(reply: &[u8], limits: &Limits) -> Option<Result<Decoded, Rejection>> {
    match reply {
        [b'N', b'O', code] => rejection_of(*code).map(Err),
        [b'O', b'K', rest @ ..] if rest.len() >= 18 => {
            let number = |i: usize| {
                rest.get(i * 4..i * 4 + 4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_be_bytes)
            };
            let (width, height) = (number(0)?, number(1)?);
            let source = (number(2)?, number(3)?);
            let orientation = Orientation::from_exif(rest[16])?;
            let channels = rest[17];
            let pixels = &rest[18..];
            let expected = u64::from(width) * u64::from(height) * u64::from(channels);
            if pixels.len() as u64 != expected || expected > limits.max_alloc || width == 0 {
                return None;
            }
            let pixels = match channels {
                3 => Pixels::Rgb(pixels.to_vec()),
                4 => Pixels::Rgba(pixels.to_vec()),
                _ => return None,
            };
            Some(Ok(Decoded {
                source,
                pixels,
                width,
                height,
                orientation,
                coverage: Coverage::Whole,
            }))
        }
        _ => None,
    }
}

const REJECTIONS: [Rejection; 3] = [
    Rejection::Corrupt,
    Rejection::TooManyPixels,
    Rejection::NotAnImage,
];

fn rejection_code(rejection: &Rejection) -> u8 {
    REJECTIONS
        .iter()
        .position(|r| r == rejection)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

fn rejection_of(code: u8) -> Option<Rejection> {
    REJECTIONS.get(usize::from(code)).cloned()
}

/// The child: `folio __decode avif|heic LIMITS…`, the file on stdin. Whatever happens inside the
/// decoder, the parent only ever reads a reply it checks, or a failure.
pub fn child_main(args: &[String]) -> ExitCode {
    let Some((kind, rest)) = args
        .split_first()
        .and_then(|(kind, rest)| Some((Kind::of(kind)?, rest)))
    else {
        return ExitCode::from(2);
    };
    let Some((limits, target)) = decode_args(rest) else {
        return ExitCode::from(2);
    };
    if kind == Kind::Heic {
        // An allocation past this fails, and the child aborts: a refused file. Under a lower
        // hard limit already (`ulimit -v`, systemd's LimitAS), that one stands.
        let ceiling = limits.max_alloc.saturating_mul(HEIC_ADDRESS_SPACE);
        let hard = rlimit::Resource::AS.get().map_or(ceiling, |(_, hard)| hard);
        if rlimit::Resource::AS.set(ceiling.min(hard), hard).is_err() {
            return ExitCode::from(2);
        }
    }
    let mut bytes = Vec::new();
    if std::io::stdin().read_to_end(&mut bytes).is_err() {
        return ExitCode::from(2);
    }
    let result = std::panic::catch_unwind(|| kind.decode(&bytes, &limits, target))
        .unwrap_or(Err(Rejection::Corrupt));
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(&encode_reply(&result))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_and_replies_survive_the_trip() {
        let limits = Limits {
            max_pixels: 1234,
            max_side: 56,
            max_alloc: 7890,
        };
        let target = Shrink {
            keep: 600,
            square: Some(Square {
                x: 1,
                y: 2,
                size: 3,
            }),
        };
        let args = encode_args(&limits, target);
        let (l, t) = decode_args(&args).expect("parsed");
        assert_eq!((l.max_pixels, l.max_side, l.max_alloc), (1234, 56, 7890));
        assert_eq!((t.keep, t.square), (600, target.square));

        let decoded = Decoded {
            source: (40, 30),
            pixels: Pixels::Rgba(vec![7; 2 * 3 * 4]),
            width: 2,
            height: 3,
            orientation: Orientation::Rotate90,
            coverage: Coverage::Whole,
        };
        let back = read_reply(&encode_reply(&Ok(decoded)), &Limits::default())
            .expect("a reply")
            .expect("a picture");
        assert_eq!((back.width, back.height, back.source), (2, 3, (40, 30)));
        assert_eq!(back.orientation, Orientation::Rotate90);
        assert!(matches!(back.pixels, Pixels::Rgba(p) if p == vec![7; 24]));
        for rejection in REJECTIONS {
            let reply = encode_reply(&Err(rejection.clone()));
            assert_eq!(
                read_reply(&reply, &Limits::default()).and_then(Result::err),
                Some(rejection)
            );
        }
    }

    #[test]
    fn a_reply_that_does_not_add_up_is_no_picture() {
        let mut reply = b"OK".to_vec();
        for n in [2u32, 2, 2, 2] {
            reply.extend_from_slice(&n.to_be_bytes());
        }
        reply.extend_from_slice(&[1, 3]);
        reply.extend_from_slice(&[0; 11]); // 12 expected
        assert!(read_reply(&reply, &Limits::default()).is_none());
        assert!(read_reply(b"", &Limits::default()).is_none());
        assert!(read_reply(b"NO\x09", &Limits::default()).is_none());
        let tight = Limits {
            max_alloc: 8,
            ..Limits::default()
        };
        reply.push(0);
        assert!(
            read_reply(&reply, &tight).is_none(),
            "over the allocation limit"
        );
    }
}
