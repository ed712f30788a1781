//! RoadRunner's goridge frame format: bytes in, bytes out.
//!
//! Owns the wire layout (12-byte header, up to ten u32 options, payload), the header CRC and
//! the limits that protect the master from a misbehaving peer. It knows nothing about what a
//! frame means (see [`crate::message`]) nor where the bytes travel (see [`crate::transport`]).
//!
//! Layout, as RoadRunner writes it:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | high nibble: version 1; low nibble: header length in 32-bit words (3 + options) |
//! | 1 | flags |
//! | 2–5 | payload length, u32 LE (options not counted) |
//! | 6–9 | CRC32 (IEEE) of bytes 0–5, u32 LE |
//! | 10 | stream flags |
//! | 11 | reserved, 0 |

use std::fmt;

/// Flag bits of byte 1.
pub mod flags {
    pub const CONTROL: u8 = 0x01;
    pub const CODEC_RAW: u8 = 0x04;
    pub const CODEC_JSON: u8 = 0x08;
    pub const CODEC_MSGPACK: u8 = 0x10;
    pub const CODEC_GOB: u8 = 0x20;
    pub const ERROR: u8 = 0x40;
    pub const CODEC_PROTO: u8 = 0x80;
}

/// Stream flag bits of byte 10.
pub mod stream {
    pub const STREAM: u8 = 0x01;
    pub const STOP: u8 = 0x02;
    pub const PING: u8 = 0x04;
    pub const PONG: u8 = 0x08;
}

pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 12;
pub const MAX_OPTIONS: usize = 10;

/// The largest payload the master accepts from a worker. A tick's answer is a status line;
/// anything near this size is a bug or a corrupted stream, and buffering it would let one
/// worker exhaust the master's memory.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub flags: u8,
    pub stream_flags: u8,
    pub options: Vec<u32>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The high nibble of byte 0 is not 1.
    Version(u8),
    /// The low nibble of byte 0 does not describe 3 to 13 words.
    HeaderLength(u8),
    /// The header CRC does not match bytes 0–5.
    Crc { expected: u32, found: u32 },
    /// The payload is larger than the limit the reader set.
    TooLarge { len: usize, max: usize },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Version(v) => write!(f, "frame version {v}, expected {VERSION}"),
            DecodeError::HeaderLength(words) => write!(
                f,
                "frame header length of {words} words, expected 3 to {}",
                3 + MAX_OPTIONS
            ),
            DecodeError::Crc { expected, found } => {
                write!(
                    f,
                    "frame header CRC {found:#010x}, expected {expected:#010x}"
                )
            }
            DecodeError::TooLarge { len, max } => {
                write!(f, "frame payload of {len} bytes, limit {max}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl Frame {
    pub fn new(flags: u8, options: Vec<u32>, payload: Vec<u8>) -> Frame {
        debug_assert!(options.len() <= MAX_OPTIONS);
        Frame {
            flags,
            stream_flags: 0,
            options,
            payload,
        }
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Number of bytes [`Frame::encode`] gives.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + 4 * self.options.len() + self.payload.len()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.prefix();
        out.extend_from_slice(&self.payload);
        out
    }

    /// The bytes that go before the payload: the 12-byte header and the options. Writing
    /// these and then the payload (one vectored write) sends the frame without copying it.
    pub fn prefix(&self) -> Vec<u8> {
        let words = 3 + self.options.len() as u8;
        let len = u32::try_from(self.payload.len()).expect("payload fits in u32");
        let mut header = [0u8; HEADER_LEN];
        header[0] = (VERSION << 4) | words;
        header[1] = self.flags;
        header[2..6].copy_from_slice(&len.to_le_bytes());
        let crc = crc32(&header[0..6]);
        header[6..10].copy_from_slice(&crc.to_le_bytes());
        header[10] = self.stream_flags;
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * self.options.len());
        out.extend_from_slice(&header);
        for option in &self.options {
            out.extend_from_slice(&option.to_le_bytes());
        }
        out
    }

    /// How many more bytes the frame at the front of `buf` needs to be whole: 0 when its
    /// header is not all there yet or would be refused by [`Frame::decode`].
    pub fn missing_bytes(buf: &[u8], max_payload: usize) -> usize {
        match check_header(buf, max_payload) {
            Ok(Some((_, total))) => total.saturating_sub(buf.len()),
            _ => 0,
        }
    }

    /// Decodes one frame from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a frame, and otherwise the frame and
    /// the number of bytes it took. The header is checked as soon as its 12 bytes are there,
    /// so an oversized or corrupt frame is refused before its payload is buffered.
    pub fn decode(buf: &[u8], max_payload: usize) -> Result<Option<(Frame, usize)>, DecodeError> {
        let Some((option_count, total)) = check_header(buf, max_payload)? else {
            return Ok(None);
        };
        if buf.len() < total {
            return Ok(None);
        }
        let options = buf[HEADER_LEN..HEADER_LEN + 4 * option_count]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let frame = Frame {
            flags: buf[1],
            stream_flags: buf[10],
            options,
            payload: buf[HEADER_LEN + 4 * option_count..total].to_vec(),
        };
        Ok(Some((frame, total)))
    }
}

/// Checks the 12-byte header at the front of `buf`, once it is all there: the option count
/// and the frame's whole length.
fn check_header(buf: &[u8], max_payload: usize) -> Result<Option<(usize, usize)>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let version = buf[0] >> 4;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let words = buf[0] & 0x0f;
    if !(3..=3 + MAX_OPTIONS as u8).contains(&words) {
        return Err(DecodeError::HeaderLength(words));
    }
    let found = u32::from_le_bytes(buf[6..10].try_into().expect("4 bytes"));
    let expected = crc32(&buf[0..6]);
    if found != expected {
        return Err(DecodeError::Crc { expected, found });
    }
    let len = u32::from_le_bytes(buf[2..6].try_into().expect("4 bytes")) as usize;
    if len > max_payload {
        return Err(DecodeError::TooLarge {
            len,
            max: max_payload,
        });
    }
    let option_count = usize::from(words) - 3;
    Ok(Some((option_count, HEADER_LEN + 4 * option_count + len)))
}

/// CRC32 (IEEE 802.3, reflected), as Go's `crc32.ChecksumIEEE` computes it.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn header_bytes_match_goridge() {
        // A job as the tick plugin sends it: no codec flag, one option (header length).
        let frame = Frame::new(0, vec![2], b"{}body".to_vec());
        let bytes = frame.encode();
        assert_eq!(bytes[0], 0x14, "version 1, four header words");
        assert_eq!(bytes[1], 0);
        assert_eq!(&bytes[2..6], &6u32.to_le_bytes());
        assert_eq!(&bytes[6..10], &crc32(&bytes[0..6]).to_le_bytes());
        assert_eq!(&bytes[10..12], &[0, 0]);
        assert_eq!(&bytes[12..16], &2u32.to_le_bytes());
        assert_eq!(&bytes[16..], b"{}body");
        assert_eq!(bytes.len(), frame.encoded_len());

        let bare = Frame::new(flags::ERROR, vec![], b"x".to_vec()).encode();
        assert_eq!(bare[0], 0x13, "no options: three header words");
    }

    #[test]
    fn round_trips_every_option_count() {
        for n in 0..=MAX_OPTIONS {
            let mut frame = Frame::new(
                flags::CONTROL | flags::CODEC_JSON,
                (0..n as u32).map(|i| i * 7 + 1).collect(),
                vec![0xAB; n * 3],
            );
            frame.stream_flags = stream::STOP;
            let bytes = frame.encode();
            let (decoded, used) = Frame::decode(&bytes, MAX_PAYLOAD).unwrap().unwrap();
            assert_eq!(decoded, frame);
            assert_eq!(used, bytes.len());
        }
    }

    #[test]
    fn partial_input_asks_for_more_and_extra_input_is_left() {
        let a = Frame::new(0, vec![0], b"first".to_vec()).encode();
        let b = Frame::new(flags::ERROR, vec![], b"second".to_vec()).encode();
        let mut both = a.clone();
        both.extend_from_slice(&b);
        for cut in 0..a.len() {
            assert_eq!(
                Frame::decode(&both[..cut], MAX_PAYLOAD),
                Ok(None),
                "cut {cut}"
            );
        }
        let (first, used) = Frame::decode(&both, MAX_PAYLOAD).unwrap().unwrap();
        assert_eq!(first.payload, b"first");
        let (second, rest) = Frame::decode(&both[used..], MAX_PAYLOAD).unwrap().unwrap();
        assert_eq!(second.payload, b"second");
        assert_eq!(used + rest, both.len());
    }

    #[test]
    fn missing_bytes_counts_what_a_partial_frame_still_needs() {
        let bytes = Frame::new(0, vec![3], vec![9; 1000]).encode();
        let total = bytes.len();
        for cut in 0..HEADER_LEN {
            assert_eq!(
                Frame::missing_bytes(&bytes[..cut], MAX_PAYLOAD),
                0,
                "cut {cut}"
            );
        }
        for cut in [HEADER_LEN, HEADER_LEN + 4, 500, total - 1] {
            assert_eq!(
                Frame::missing_bytes(&bytes[..cut], MAX_PAYLOAD),
                total - cut,
                "cut {cut}"
            );
        }
        assert_eq!(Frame::missing_bytes(&bytes, MAX_PAYLOAD), 0, "whole");
        assert_eq!(
            Frame::missing_bytes(&bytes[..20], 999),
            0,
            "oversized: refused"
        );
        let mut corrupt = bytes.clone();
        corrupt[3] ^= 0xff;
        assert_eq!(
            Frame::missing_bytes(&corrupt[..20], MAX_PAYLOAD),
            0,
            "bad CRC"
        );
    }

    #[test]
    fn refuses_a_wrong_version() {
        let mut bytes = Frame::new(0, vec![0], vec![]).encode();
        bytes[0] = 0x24;
        // The CRC covers byte 0, so fix it up to reach the version check in isolation.
        let crc = crc32(&bytes[0..6]).to_le_bytes();
        bytes[6..10].copy_from_slice(&crc);
        assert_eq!(
            Frame::decode(&bytes, MAX_PAYLOAD),
            Err(DecodeError::Version(2))
        );
    }

    #[test]
    fn refuses_an_impossible_header_length() {
        for words in [0u8, 1, 2, 14, 15] {
            let mut bytes = Frame::new(0, vec![], vec![]).encode();
            bytes[0] = 0x10 | words;
            assert_eq!(
                Frame::decode(&bytes, MAX_PAYLOAD),
                Err(DecodeError::HeaderLength(words))
            );
        }
    }

    #[test]
    fn refuses_a_corrupt_header() {
        let mut bytes = Frame::new(0, vec![0], b"x".to_vec()).encode();
        bytes[3] ^= 0x01;
        assert!(matches!(
            Frame::decode(&bytes, MAX_PAYLOAD),
            Err(DecodeError::Crc { .. })
        ));
    }

    #[test]
    fn refuses_an_oversized_frame_from_its_header_alone() {
        let bytes = Frame::new(0, vec![0], vec![0; 100]).encode();
        assert_eq!(
            Frame::decode(&bytes[..HEADER_LEN], 99),
            Err(DecodeError::TooLarge { len: 100, max: 99 })
        );
        assert!(Frame::decode(&bytes, 100).unwrap().is_some());
    }

    #[test]
    fn decodes_frames_written_by_the_php_library() {
        // Bytes of `$worker->error("boom")` as spiral/goridge 4 writes them.
        let mut bytes = vec![0x13, 0x40, 4, 0, 0, 0];
        bytes.extend_from_slice(&crc32(&bytes).to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(b"boom");
        let (frame, _) = Frame::decode(&bytes, MAX_PAYLOAD).unwrap().unwrap();
        assert!(frame.has(flags::ERROR));
        assert!(frame.options.is_empty());
        assert_eq!(frame.payload, b"boom");
    }
}

/// Property tests: whatever bytes arrive, the decoder answers without panicking, and what
/// the encoder writes it reads back, whole or in pieces. `PROPTEST_CASES` sets how many
/// cases each runs (256 by default); see docs/reliability.md for the long run.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn frame() -> impl Strategy<Value = Frame> {
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u32>(), 0..=MAX_OPTIONS),
            proptest::collection::vec(any::<u8>(), 0..4096),
        )
            .prop_map(|(flags, stream_flags, options, payload)| Frame {
                flags,
                stream_flags,
                options,
                payload,
            })
    }

    /// Decodes what `chunks` deliver one after the other, as a channel reading a socket
    /// does: every whole frame at the front of the buffer is taken as soon as it is there.
    fn decode_stream(chunks: &[&[u8]], max: usize) -> Result<Vec<Frame>, DecodeError> {
        let mut buf = vec![];
        let mut frames = vec![];
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some((frame, used)) = Frame::decode(&buf, max)? {
                frames.push(frame);
                buf.drain(..used);
            }
        }
        assert!(buf.is_empty(), "{} bytes left over", buf.len());
        Ok(frames)
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2048),
            max in 0usize..4096,
        ) {
            let decoded = Frame::decode(&bytes, max);
            let missing = Frame::missing_bytes(&bytes, max);
            if let Ok(Some((frame, used))) = decoded {
                prop_assert!(used <= bytes.len());
                prop_assert!(frame.payload.len() <= max);
                prop_assert_eq!(missing, 0);
            }
        }

        #[test]
        fn arbitrary_headers_with_a_valid_crc_never_panic(
            first in prop_oneof![(0u8..16).prop_map(|words| (VERSION << 4) | words), any::<u8>()],
            flags in any::<u8>(),
            len in prop_oneof![0u32..600, any::<u32>()],
            stream_bytes in proptest::array::uniform2(any::<u8>()),
            tail in proptest::collection::vec(any::<u8>(), 0..512),
            max in 0usize..1024,
        ) {
            // Random bytes almost never pass the CRC, nor carry version 1 and a length under
            // the limit; these mostly do, so every later check runs.
            let mut bytes = vec![first, flags];
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&crc32(&bytes).to_le_bytes());
            bytes.extend_from_slice(&stream_bytes);
            bytes.extend_from_slice(&tail);
            match Frame::decode(&bytes, max) {
                Ok(Some((frame, used))) => {
                    prop_assert_eq!(used, frame.encoded_len());
                    prop_assert_eq!(&frame.encode()[..10], &bytes[..10]);
                }
                Ok(None) => prop_assert!(Frame::missing_bytes(&bytes, max) > 0),
                Err(_) => prop_assert_eq!(Frame::missing_bytes(&bytes, max), 0),
            }
        }

        #[test]
        fn damaged_frames_never_panic(
            frame in frame(),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = frame.encode();
            for (at, byte) in damage {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let bytes = &bytes[..cut.index(bytes.len() + 1)];
            let _ = Frame::decode(bytes, MAX_PAYLOAD);
            let _ = Frame::missing_bytes(bytes, MAX_PAYLOAD);
        }

        #[test]
        fn what_is_encoded_decodes_to_the_same_frame(frame in frame()) {
            let bytes = frame.encode();
            prop_assert_eq!(bytes.len(), frame.encoded_len());
            let mut vectored = frame.prefix();
            vectored.extend_from_slice(&frame.payload);
            prop_assert_eq!(&vectored, &bytes);
            let (decoded, used) = Frame::decode(&bytes, frame.payload.len())
                .expect("valid")
                .expect("whole");
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, frame);
        }

        #[test]
        fn a_partial_frame_asks_for_exactly_what_it_lacks(
            frame in frame(),
            cut in any::<prop::sample::Index>(),
        ) {
            let bytes = frame.encode();
            let cut = cut.index(bytes.len());
            prop_assert_eq!(Frame::decode(&bytes[..cut], MAX_PAYLOAD), Ok(None));
            let missing = Frame::missing_bytes(&bytes[..cut], MAX_PAYLOAD);
            let expected = if cut < HEADER_LEN { 0 } else { bytes.len() - cut };
            prop_assert_eq!(missing, expected);
        }

        #[test]
        fn frames_split_anywhere_decode_in_order(
            frames in proptest::collection::vec(frame(), 1..6),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let stream: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            at.push(0);
            at.push(stream.len());
            at.sort_unstable();
            let chunks: Vec<&[u8]> = at.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
            prop_assert_eq!(decode_stream(&chunks, MAX_PAYLOAD), Ok(frames));
        }

        #[test]
        fn an_oversized_frame_is_refused_from_its_header_alone(
            frame in frame().prop_filter("a payload to be too large", |f| !f.payload.is_empty()),
            under in any::<prop::sample::Index>(),
        ) {
            let max = under.index(frame.payload.len());
            let bytes = frame.encode();
            let refused = Err(DecodeError::TooLarge { len: frame.payload.len(), max });
            prop_assert_eq!(Frame::decode(&bytes[..HEADER_LEN], max), refused.clone());
            prop_assert_eq!(Frame::decode(&bytes, max), refused);
            prop_assert_eq!(Frame::missing_bytes(&bytes[..HEADER_LEN], max), 0);
        }

        #[test]
        fn any_flipped_bit_in_the_checked_header_is_refused(
            frame in frame(),
            bit in 0usize..80,
        ) {
            let mut bytes = frame.encode();
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(Frame::decode(&bytes, MAX_PAYLOAD).is_err(), "bit {}", bit);
        }
    }
}
