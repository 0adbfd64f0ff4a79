//! The layout both trained models' files share ([`crate::classifier`] and
//! [`crate::dedup::types`]): an 8-byte magic, then little-endian `u32`s,
//! `f32`s, counted UTF-8 strings and raw bytes. Each model says what its
//! file holds; this module only writes and reads the pieces, and names a
//! fault the way both models report it ("truncated", "trailing bytes").

/// Appends the pieces of a model file.
#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        Writer(Vec::with_capacity(n))
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub fn u32(&mut self, x: u32) {
        self.bytes(&x.to_le_bytes());
    }
    /// A length that a file format stores as `u32` (counts, rows, string
    /// lengths: all far below 2^32 for a model).
    pub fn size(&mut self, n: usize) {
        self.u32(n as u32);
    }
    pub fn f32s<'a>(&mut self, xs: impl IntoIterator<Item = &'a f32>) {
        for x in xs {
            self.bytes(&x.to_le_bytes());
        }
    }
    /// Counted strings: the count, then each one's length and bytes.
    pub fn strs<'a>(&mut self, ss: impl ExactSizeIterator<Item = &'a str>) {
        self.size(ss.len());
        for s in ss {
            self.size(s.len());
            self.bytes(s.as_bytes());
        }
    }
}

/// Reads the pieces of a model file in order; a fault is its description.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    /// A reader past `magic`; `None` when the file does not start with it
    /// (not this kind of model, or too short to tell).
    pub fn after_magic(b: &'a [u8], magic: &[u8; 8]) -> Option<Reader<'a>> {
        b.strip_prefix(magic.as_slice()).map(Reader)
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated");
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub fn u32(&mut self) -> Result<u32, &'static str> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>, &'static str> {
        Ok(self
            .take(n.checked_mul(4).ok_or("truncated")?)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    /// Counted strings (see [`Writer::strs`]), at least one and at most
    /// `max`: `count` names a count out of range, `text` a string that is
    /// not UTF-8.
    pub fn strs(
        &mut self,
        max: usize,
        count: &'static str,
        text: &'static str,
    ) -> Result<Vec<&'a str>, &'static str> {
        let n = self.u32()? as usize;
        if n == 0 || n > max {
            return Err(count);
        }
        (0..n)
            .map(|_| {
                let len = self.u32()? as usize;
                std::str::from_utf8(self.take(len)?).map_err(|_| text)
            })
            .collect()
    }
    /// A row count: a power of two, at most 2^20.
    pub fn rows(&mut self, what: &'static str) -> Result<usize, &'static str> {
        let dims = self.u32()? as usize;
        if !dims.is_power_of_two() || dims > 1 << 20 {
            return Err(what);
        }
        Ok(dims)
    }
    /// The file ends here.
    pub fn end(&self) -> Result<(), &'static str> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("trailing bytes")
        }
    }
}
