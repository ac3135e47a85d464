//! Files of little-endian numbers, strings and arrays, hashed with BLAKE3 as they are
//! written and read.
//!
//! An array is a count, then its elements, so a column of a store is written and read as it
//! lies in memory: no per-row framing, no parsing, no re-interning. Both directions stream
//! through a fixed buffer, so writing or reading a file never holds a second copy of it.
//! Every read is bounded: a count is refused when its elements would not fit in what is left
//! of the payload, so a damaged count cannot ask for more memory than the file holds.

use std::io::{self, Read, Write};

/// Elements converted per step.
const STEP: usize = 1 << 14;

/// Writes a payload, hashing it and counting its bytes.
pub(crate) struct ColWriter<W: Write> {
    out: W,
    hasher: blake3::Hasher,
    len: u64,
    buf: Vec<u8>,
}

impl<W: Write> ColWriter<W> {
    pub(crate) fn new(out: W) -> ColWriter<W> {
        ColWriter {
            out,
            hasher: blake3::Hasher::new(),
            len: 0,
            buf: Vec::with_capacity(STEP * 8),
        }
    }

    /// The payload's length and hash so far, and the writer.
    pub(crate) fn finish(self) -> (u64, [u8; 32], W) {
        (self.len, *self.hasher.finalize().as_bytes(), self.out)
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.hasher.update(b);
        self.len += b.len() as u64;
        self.out.write_all(b)
    }

    pub(crate) fn u8(&mut self, v: u8) -> io::Result<()> {
        self.bytes(&[v])
    }

    pub(crate) fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn str(&mut self, s: &str) -> io::Result<()> {
        self.u64(s.len() as u64)?;
        self.bytes(s.as_bytes())
    }

    /// An array of `N`-byte elements, each written by `put`.
    fn array<T: Copy, const N: usize>(
        &mut self,
        v: &[T],
        put: impl Fn(T) -> [u8; N],
    ) -> io::Result<()> {
        self.u64(v.len() as u64)?;
        let mut buf = std::mem::take(&mut self.buf);
        for part in v.chunks(STEP) {
            buf.clear();
            for &x in part {
                buf.extend_from_slice(&put(x));
            }
            self.bytes(&buf)?;
        }
        self.buf = buf;
        Ok(())
    }

    pub(crate) fn u8s(&mut self, v: &[u8]) -> io::Result<()> {
        self.u64(v.len() as u64)?;
        self.bytes(v)
    }

    pub(crate) fn u32s(&mut self, v: &[u32]) -> io::Result<()> {
        self.array(v, u32::to_le_bytes)
    }

    pub(crate) fn u64s(&mut self, v: &[u64]) -> io::Result<()> {
        self.array(v, u64::to_le_bytes)
    }

    /// `usize`s, as `u64`s.
    pub(crate) fn usizes(&mut self, v: &[usize]) -> io::Result<()> {
        self.array(v, |x| (x as u64).to_le_bytes())
    }
}

/// Reads a payload of known length, hashing it. Every read returns `None` when the payload
/// ends first or the data is malformed; the caller names the part that failed.
pub(crate) struct ColReader<R: Read> {
    input: R,
    hasher: blake3::Hasher,
    left: u64,
    buf: Vec<u8>,
}

impl<R: Read> ColReader<R> {
    /// A reader of the next `len` bytes of `input`.
    pub(crate) fn new(input: R, len: u64) -> ColReader<R> {
        ColReader {
            input,
            hasher: blake3::Hasher::new(),
            left: len,
            buf: vec![0; STEP * 8],
        }
    }

    /// Bytes of the payload not read yet.
    pub(crate) fn left(&self) -> u64 {
        self.left
    }

    /// Reads and hashes whatever is left, then gives the payload's hash (`None` when the
    /// input ends before the payload does, or cannot be read).
    pub(crate) fn finish(mut self) -> Option<[u8; 32]> {
        while self.left > 0 {
            let n = self.left.min(self.buf.len() as u64) as usize;
            let mut buf = std::mem::take(&mut self.buf);
            self.fill(&mut buf[..n])?;
            self.buf = buf;
        }
        Some(*self.hasher.finalize().as_bytes())
    }

    fn fill(&mut self, out: &mut [u8]) -> Option<()> {
        if (out.len() as u64) > self.left {
            return None;
        }
        self.input.read_exact(out).ok()?;
        self.hasher.update(out);
        self.left -= out.len() as u64;
        Some(())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Some(b[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let mut b = [0u8; 4];
        self.fill(&mut b)?;
        Some(u32::from_le_bytes(b))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Some(u64::from_le_bytes(b))
    }

    /// A count of `size`-byte elements that fit in what is left.
    fn count(&mut self, size: u64) -> Option<usize> {
        let n = self.u64()?;
        (n.checked_mul(size)? <= self.left)
            .then(|| usize::try_from(n).ok())
            .flatten()
    }

    /// A string (UTF-8 checked).
    pub(crate) fn str(&mut self) -> Option<String> {
        let n = self.count(1)?;
        let mut b = vec![0u8; n];
        self.fill(&mut b)?;
        String::from_utf8(b).ok()
    }

    /// An array of `N`-byte elements, each made by `get`.
    fn array<T, const N: usize>(&mut self, get: impl Fn([u8; N]) -> T) -> Option<Vec<T>> {
        let n = self.count(N as u64)?;
        let mut out = Vec::with_capacity(n);
        let mut buf = std::mem::take(&mut self.buf);
        let mut done = 0;
        while done < n {
            let k = (n - done).min(STEP);
            let bytes = &mut buf[..k * N];
            self.fill(bytes)?;
            out.extend(
                bytes
                    .chunks_exact(N)
                    .map(|c| get(c.try_into().unwrap_or([0; N]))),
            );
            done += k;
        }
        self.buf = buf;
        Some(out)
    }

    pub(crate) fn u8s(&mut self) -> Option<Vec<u8>> {
        let n = self.count(1)?;
        let mut b = vec![0u8; n];
        self.fill(&mut b)?;
        Some(b)
    }

    pub(crate) fn u32s(&mut self) -> Option<Vec<u32>> {
        self.array(u32::from_le_bytes)
    }

    pub(crate) fn u64s(&mut self) -> Option<Vec<u64>> {
        self.array(u64::from_le_bytes)
    }

    /// `usize`s written as `u64`s; `None` for one that does not fit.
    pub(crate) fn usizes(&mut self) -> Option<Vec<usize>> {
        let v = self.array(u64::from_le_bytes)?;
        v.into_iter().map(|x| usize::try_from(x).ok()).collect()
    }
}

/// Bytes read ahead per block.
const AHEAD: usize = 4 << 20;

/// A reader fed by a thread that reads its input ahead, a few large blocks at a time, so
/// that reading the disk and decoding overlap (a cold 2 GB file takes seconds to read).
pub(crate) struct ReadAhead {
    blocks: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    block: Vec<u8>,
    at: usize,
}

impl ReadAhead {
    pub(crate) fn new<R: Read + Send + 'static>(mut input: R) -> ReadAhead {
        let (tx, blocks) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || {
            loop {
                let mut block = vec![0u8; AHEAD];
                let mut n = 0;
                let result = loop {
                    match input.read(&mut block[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == block.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                block.truncate(n);
                let last = n < AHEAD;
                // A receiver that hung up has what it wanted: stop reading.
                let sent = match result {
                    Ok(()) if n == 0 => break,
                    Ok(()) => tx.send(Ok(block)),
                    Err(e) => tx.send(Err(e)),
                };
                if sent.is_err() || last {
                    break;
                }
            }
        });
        ReadAhead {
            blocks,
            block: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.block.len() {
            match self.blocks.recv() {
                Ok(Ok(b)) => {
                    self.block = b;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The input ended.
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.block.len() - self.at);
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_with_the_same_hash() {
        let mut w = ColWriter::new(Vec::new());
        let big: Vec<u32> = (0..40_000).collect();
        w.u8(7).unwrap();
        w.str("Ünïcode").unwrap();
        w.u32s(&big).unwrap();
        w.u64s(&[u64::MAX, 0]).unwrap();
        w.usizes(&[3, 9]).unwrap();
        w.u8s(b"ab").unwrap();
        let (len, hash, bytes) = w.finish();
        assert_eq!(len, bytes.len() as u64);
        assert_eq!(&hash, blake3::hash(&bytes).as_bytes());
        let mut r = ColReader::new(&bytes[..], len);
        assert_eq!(r.u8(), Some(7));
        assert_eq!(r.str().as_deref(), Some("Ünïcode"));
        assert_eq!(r.u32s(), Some(big));
        assert_eq!(r.u64s(), Some(vec![u64::MAX, 0]));
        assert_eq!(r.usizes(), Some(vec![3, 9]));
        assert_eq!(r.u8s(), Some(b"ab".to_vec()));
        assert_eq!(r.left(), 0);
        assert_eq!(r.finish(), Some(hash));
    }

    #[test]
    fn reading_ahead_gives_the_input_whole_and_in_order() {
        for len in [0, 1, AHEAD - 1, AHEAD, AHEAD + 1, 3 * AHEAD + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut back = Vec::new();
            ReadAhead::new(std::io::Cursor::new(data.clone()))
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == data, "{len} bytes");
        }
    }

    #[test]
    fn a_count_past_the_payload_is_refused_before_any_allocation() {
        let mut w = ColWriter::new(Vec::new());
        w.u64(u64::MAX / 2).unwrap();
        let (len, _, bytes) = w.finish();
        assert_eq!(ColReader::new(&bytes[..], len).u32s(), None);
        assert_eq!(ColReader::new(&bytes[..], len).str(), None);
        // A payload longer than the input.
        assert_eq!(ColReader::new(&bytes[..], len + 4).finish(), None);
    }
}
