//! TIFF's LZW: codes of 9 to 12 bits, most significant bit first, Clear (256) and End (257),
//! and TIFF's "early change" (the code width grows one code before the table needs it).
//!
//! Written here rather than taken from `weezl` (which the `tiff` crate uses) because TIFF
//! LZW is Folio's one format that was slower than Pillow: on the 12 MP benchmark photo weezl
//! 0.1 decodes in 235 ms and 0.2 in 210 ms, libtiff in about 140 ms, this in 106 ms. The gain
//! is one idea: each code keeps the first eight bytes of its string in a word, so the short
//! strings that photos are made of are written with one eight-byte store instead of a walk
//! down a chain of prefixes. The tests check it against weezl on random data.

/// The table and its words: 52 KiB, made once per picture and reused for every strip.
pub(super) struct Lzw {
    /// The first eight bytes of each code's string, the first in the low byte.
    head: [u64; TABLE],
    len: [u16; TABLE],
    /// A code's string is its prefix code's string and then its last byte; read only for
    /// strings longer than eight bytes.
    prefix: [u16; TABLE],
    last: [u8; TABLE],
}

/// The data ended early or held a code that cannot be there.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Damaged;

const CLEAR: usize = 256;
const END: usize = 257;
const FIRST_FREE: usize = 258;
const TABLE: usize = 4096;
/// Indexes are masked with this so the compiler can drop bounds checks; every code is below
/// TABLE anyway.
const MASK: usize = TABLE - 1;

impl Lzw {
    pub(super) fn new() -> Box<Lzw> {
        let mut lzw = Box::new(Lzw {
            head: [0; TABLE],
            len: [0; TABLE],
            prefix: [0; TABLE],
            last: [0; TABLE],
        });
        for byte in 0..=255u8 {
            let code = usize::from(byte);
            lzw.head[code] = u64::from(byte);
            lzw.len[code] = 1;
            lzw.last[code] = byte;
        }
        lzw
    }

    /// Decodes one strip until `out` is full, as libtiff does: what follows (an End code, or
    /// the rest of a string that does not fit) is not read. Damaged when the data or its End
    /// comes first.
    pub(super) fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), Damaged> {
        let mut bits = Bits {
            input,
            at: 0,
            word: 0,
            count: 0,
        };
        let mut width = 9;
        let mut next = FIRST_FREE;
        let mut previous: Option<usize> = None;
        let mut at = 0;
        while at < out.len() {
            let code = bits.take(width).ok_or(Damaged)?;
            if code == CLEAR {
                (width, next, previous) = (9, FIRST_FREE, None);
                continue;
            }
            if code == END {
                return Err(Damaged);
            }
            match previous {
                // After a Clear only a byte may come.
                None if code >= CLEAR => return Err(Damaged),
                None => {}
                Some(_) if code > next => return Err(Damaged),
                // A full table takes no more codes until a Clear.
                Some(_) if next == TABLE => {}
                Some(previous) => {
                    self.add(next, previous, code);
                    next += 1;
                    if next + 1 == 1 << width && width < 12 {
                        width += 1;
                    }
                }
            }
            at += self.write(code, &mut out[at..]);
            previous = Some(code);
        }
        Ok(())
    }

    /// Makes `next` the string of `previous` and then the first byte of `code`'s string (of
    /// `previous`'s, when `code` is `next` itself: the one code an encoder may send before
    /// the decoder has it).
    #[inline(always)]
    fn add(&mut self, next: usize, previous: usize, code: usize) {
        let head = self.head[previous & MASK];
        let len = self.len[previous & MASK];
        let byte = if code < next {
            self.head[code & MASK] as u8
        } else {
            head as u8
        };
        self.head[next & MASK] = if len < 8 {
            head | u64::from(byte) << (8 * len)
        } else {
            head
        };
        self.len[next & MASK] = len + 1;
        self.prefix[next & MASK] = previous as u16;
        self.last[next & MASK] = byte;
    }

    /// Writes `code`'s string at the start of `out`, as much as fits; returns how much that
    /// was.
    #[inline(always)]
    fn write(&self, code: usize, out: &mut [u8]) -> usize {
        let len = usize::from(self.len[code & MASK]);
        let head = self.head[code & MASK].to_le_bytes();
        if len <= 8
            && let Some(room) = out.get_mut(..8)
        {
            // The bytes past `len` are overwritten by the strings that follow.
            room.copy_from_slice(&head);
            return len;
        }
        self.write_long(code, len, head, out)
    }

    #[inline(never)]
    fn write_long(&self, code: usize, len: usize, head: [u8; 8], out: &mut [u8]) -> usize {
        let written = len.min(out.len());
        let from_head = written.min(8);
        out[..from_head].copy_from_slice(&head[..from_head]);
        // The bytes past the head, last first, down the chain of prefixes.
        let mut code = code;
        for at in (8..len).rev() {
            if let Some(slot) = out.get_mut(at) {
                *slot = self.last[code & MASK];
            }
            code = usize::from(self.prefix[code & MASK]);
        }
        written
    }
}

/// The input as codes, most significant bit first.
struct Bits<'a> {
    input: &'a [u8],
    at: usize,
    /// Bits not yet taken, at the top of the word; the bits below `count` are zero or the
    /// input's next bits.
    word: u64,
    count: u32,
}

impl Bits<'_> {
    #[inline(always)]
    fn take(&mut self, width: u32) -> Option<usize> {
        if self.count < width {
            if let Some(eight) = self.input.get(self.at..self.at + 8) {
                // Eight bytes at once; the part of a byte that does not fit is read again.
                let mut bytes = [0; 8];
                bytes.copy_from_slice(eight);
                self.word |= u64::from_be_bytes(bytes) >> self.count;
                self.at += ((63 - self.count) / 8) as usize;
                self.count |= 56;
            } else {
                while self.count <= 56 {
                    let Some(&byte) = self.input.get(self.at) else {
                        break;
                    };
                    self.word |= u64::from(byte) << (56 - self.count);
                    self.at += 1;
                    self.count += 8;
                }
                if self.count < width {
                    return None;
                }
            }
        }
        let code = (self.word >> (64 - width)) as usize;
        self.word <<= width;
        self.count -= width;
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn weezl_encode(data: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .expect("weezl encodes")
    }

    fn weezl_decode(input: &[u8], len: usize) -> Option<Vec<u8>> {
        let mut out = vec![0; len];
        let mut decoder =
            weezl::decode::Configuration::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
                .with_yield_on_full_buffer(true)
                .build();
        // As the `tiff` crate's reader calls it: again while it reports Ok (two Clear codes in
        // a row make a call with no output), until the strip is full.
        let (mut input, mut at, mut idle) = (input, 0, 0);
        while at < len {
            let result = decoder.decode_bytes(input, &mut out[at..]);
            input = &input[result.consumed_in..];
            at += result.consumed_out;
            idle = if result.consumed_in + result.consumed_out == 0 {
                idle + 1
            } else {
                0
            };
            match result.status {
                Ok(weezl::LzwStatus::Ok) if idle < 2 => {}
                _ if at == len => {}
                _ => return None,
            }
        }
        Some(out)
    }

    fn decode(input: &[u8], len: usize) -> Result<Vec<u8>, Damaged> {
        let mut out = vec![0; len];
        Lzw::new().decode(input, &mut out)?;
        Ok(out)
    }

    /// Bytes drawn from a few values, so strings repeat and grow long.
    fn repetitive() -> impl Strategy<Value = Vec<u8>> {
        (1u8..=255, proptest::collection::vec(any::<u8>(), 0..20_000))
            .prop_map(|(spread, bytes)| bytes.into_iter().map(|b| b % spread).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn what_weezl_encodes_decodes_to_the_same_bytes(data in repetitive()) {
            let encoded = weezl_encode(&data);
            prop_assert_eq!(decode(&encoded, data.len()), Ok(data));
        }

        #[test]
        fn any_prefix_of_the_output_decodes_alone(data in repetitive(), cut in any::<prop::sample::Index>()) {
            // A strip's rows after the window are not decoded: `out` ends mid-string.
            let len = cut.index(data.len() + 1);
            let encoded = weezl_encode(&data);
            prop_assert_eq!(decode(&encoded, len), Ok(data[..len].to_vec()));
        }

        #[test]
        fn damaged_data_decodes_as_weezl_decodes_it_or_is_refused(
            data in repetitive(),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut encoded = weezl_encode(&data);
            if encoded.is_empty() {
                return Ok(());
            }
            let at = at.index(encoded.len());
            encoded[at] = value;
            // What weezl decodes, this decodes the same; this may refuse more (an End code
            // before the strip is full, which weezl reports only as a short read).
            if let Some(theirs) = weezl_decode(&encoded, data.len()) {
                prop_assert_eq!(decode(&encoded, data.len()), Ok(theirs));
            }
        }

        #[test]
        fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..4000), len in 0usize..20_000) {
            let _ = decode(&input, len);
        }
    }

    #[test]
    fn a_string_longer_than_eight_bytes_is_written_whole() {
        let data: Vec<u8> = std::iter::repeat_n(7u8, 5000)
            .chain((0..5000).map(|i| (i % 3) as u8))
            .collect();
        let encoded = weezl_encode(&data);
        assert_eq!(decode(&encoded, data.len()), Ok(data));
    }

    #[test]
    fn a_full_table_waits_for_a_clear() {
        // weezl sends a Clear when its table is full; this stream keeps sending literals
        // through 4096 codes and beyond, as some writers do.
        let mut writer = CodeWriter::default();
        writer.put(CLEAR, 9);
        let mut expected = Vec::new();
        let mut next = FIRST_FREE;
        let mut width = 9;
        for i in 0..6000usize {
            let byte = (i * 7 % 251) as u8;
            writer.put(usize::from(byte), width);
            expected.push(byte);
            if i > 0 && next < TABLE {
                next += 1;
                if next + 1 == 1 << width && width < 12 {
                    width += 1;
                }
            }
        }
        writer.put(END, width);
        assert_eq!(decode(&writer.finish(), expected.len()), Ok(expected));
    }

    #[test]
    fn damaged_streams_are_refused() {
        let mut writer = CodeWriter::default();
        writer.put(CLEAR, 9);
        writer.put(300, 9); // A code before any string exists.
        assert_eq!(decode(&writer.finish(), 4), Err(Damaged));

        let mut writer = CodeWriter::default();
        writer.put(65, 9);
        writer.put(300, 9); // Past the next free code (259).
        assert_eq!(decode(&writer.finish(), 4), Err(Damaged));

        let mut writer = CodeWriter::default();
        writer.put(65, 9);
        writer.put(END, 9); // End before the strip is full.
        assert_eq!(decode(&writer.finish(), 4), Err(Damaged));

        let encoded = weezl_encode(b"a strip cut short");
        assert_eq!(decode(&encoded[..encoded.len() / 2], 17), Err(Damaged));
        assert_eq!(decode(&[], 1), Err(Damaged));
        assert_eq!(decode(&[], 0), Ok(Vec::new()));
    }

    #[test]
    fn the_code_sent_before_the_decoder_has_it_repeats_the_previous_string() {
        // "aaa" is a, then 258 (= "aa"), which the decoder makes as it reads it.
        let mut writer = CodeWriter::default();
        writer.put(CLEAR, 9);
        writer.put(usize::from(b'a'), 9);
        writer.put(258, 9);
        writer.put(END, 9);
        assert_eq!(decode(&writer.finish(), 3), Ok(b"aaa".to_vec()));
    }

    /// Codes of any width, most significant bit first.
    #[derive(Default)]
    struct CodeWriter {
        bytes: Vec<u8>,
        word: u64,
        count: u32,
    }

    impl CodeWriter {
        fn put(&mut self, code: usize, width: u32) {
            self.word = (self.word << width) | code as u64;
            self.count += width;
            while self.count >= 8 {
                self.count -= 8;
                self.bytes.push((self.word >> self.count) as u8);
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.count > 0 {
                self.bytes.push((self.word << (8 - self.count)) as u8);
            }
            self.bytes
        }
    }
}
