//! The byte encoding of Lua values that crosses the wasm boundary (ABI v1).
//!
//! Little-endian, one tag byte per value:
//!
//! | tag | payload | meaning |
//! |-----|---------|---------|
//! | `00` | — | nil |
//! | `01` | `u8` 0/1 | boolean |
//! | `02` | `i64` | integer |
//! | `03` | `f64` | float |
//! | `04` | `u32 len`, bytes | string (any bytes) |
//! | `05` | `u32 len`, bytes | function (serialized prototype) |
//! | `06` | `u32 len`, bytes | a value with no encoding (results only): its type name |
//! | `07` | `u32 id` | external-table reference |
//! | `08` | `u32 n`, n × (key, value) | inline table (results only) |
//! | `09` | `u32 handle` | a Lua function the host holds (results and call arguments only) |
//! | `0a` | `u32 id` | a host (JS) function (results and call arguments only) |
//! | `0b` | `u32 id` | a host (JS) object, a userdata in Lua (results and call arguments only) |
//!
//! Keys use the same encoding, restricted to nil-free scalars: a float with an integral value
//! is written as an integer so that `t[2.0]` and `t[2]` name the same entry. This module knows
//! nothing of the VM: it reads and writes bytes and is tested on its own.

use std::fmt;

use vm::lib::at;

pub const TAG_NIL: u8 = 0x00;
pub const TAG_BOOLEAN: u8 = 0x01;
pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_FLOAT: u8 = 0x03;
pub const TAG_STRING: u8 = 0x04;
pub const TAG_FUNCTION: u8 = 0x05;
pub const TAG_OPAQUE: u8 = 0x06;
pub const TAG_TABLE_REF: u8 = 0x07;
pub const TAG_INLINE_TABLE: u8 = 0x08;
pub const TAG_HANDLE: u8 = 0x09;
pub const TAG_HOST_FUNCTION: u8 = 0x0a;
pub const TAG_HOST_OBJECT: u8 = 0x0b;

/// How deep inline tables may nest, in both directions.
pub const MAX_INLINE_DEPTH: usize = 64;

/// One decoded value. Byte payloads borrow from the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Nil,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(&'a [u8]),
    Function(&'a [u8]),
    Opaque(&'a [u8]),
    TableRef(u32),
    /// An inline table header; its `n` key/value pairs follow as further items.
    InlineTable(u32),
    /// A function handle (`crate::handles`).
    Handle(u32),
    /// A host function, by the host's id.
    HostFunction(u32),
    /// A host object, by the host's id.
    HostObject(u32),
}

/// Why a byte sequence is not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    Truncated { at: usize },
    UnknownTag { tag: u8, at: usize },
    BadBoolean { at: usize },
    TrailingBytes { at: usize },
    TooDeep,
    BadKey(&'static str),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated { at } => write!(f, "encoded value truncated at byte {at}"),
            CodecError::UnknownTag { tag, at } => {
                write!(f, "unknown value tag 0x{tag:02x} at byte {at}")
            }
            CodecError::BadBoolean { at } => write!(f, "boolean byte is not 0 or 1 at byte {at}"),
            CodecError::TrailingBytes { at } => write!(f, "unexpected bytes after value at {at}"),
            CodecError::TooDeep => write!(f, "inline tables nested too deeply"),
            CodecError::BadKey(why) => write!(f, "invalid table key: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Reads items one after another from a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(CodecError::Truncated { at: self.pos })?;
        let slice = at(self.bytes, self.pos..end);
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads one item header (an inline table's entries are not consumed).
    pub fn item(&mut self) -> Result<Item<'a>, CodecError> {
        let at = self.pos;
        let tag = self.take(1)?[0];
        Ok(match tag {
            TAG_NIL => Item::Nil,
            TAG_BOOLEAN => match self.take(1)?[0] {
                0 => Item::Boolean(false),
                1 => Item::Boolean(true),
                _ => return Err(CodecError::BadBoolean { at: at + 1 }),
            },
            TAG_INTEGER => Item::Integer(i64::from_le_bytes(self.array()?)),
            TAG_FLOAT => Item::Float(f64::from_le_bytes(self.array()?)),
            TAG_STRING | TAG_FUNCTION | TAG_OPAQUE => {
                let len = self.u32()? as usize;
                let bytes = self.take(len)?;
                match tag {
                    TAG_STRING => Item::String(bytes),
                    TAG_FUNCTION => Item::Function(bytes),
                    _ => Item::Opaque(bytes),
                }
            }
            TAG_TABLE_REF => Item::TableRef(self.u32()?),
            TAG_INLINE_TABLE => Item::InlineTable(self.u32()?),
            TAG_HANDLE => Item::Handle(self.u32()?),
            TAG_HOST_FUNCTION => Item::HostFunction(self.u32()?),
            TAG_HOST_OBJECT => Item::HostObject(self.u32()?),
            tag => return Err(CodecError::UnknownTag { tag, at }),
        })
    }

    /// Skips one whole value, inline-table entries included, checking it is well formed.
    pub fn skip_value(&mut self, depth: usize) -> Result<(), CodecError> {
        if depth > MAX_INLINE_DEPTH {
            return Err(CodecError::TooDeep);
        }
        if let Item::InlineTable(n) = self.item()? {
            for _ in 0..n {
                self.skip_value(depth + 1)?;
                self.skip_value(depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Checks that `bytes` hold exactly one well-formed value.
pub fn validate_value(bytes: &[u8]) -> Result<(), CodecError> {
    let mut reader = Reader::new(bytes);
    reader.skip_value(0)?;
    if !reader.is_empty() {
        return Err(CodecError::TrailingBytes {
            at: reader.position(),
        });
    }
    Ok(())
}

/// Checks that `bytes` hold exactly one valid, canonical table key.
pub fn validate_key(bytes: &[u8]) -> Result<(), CodecError> {
    let mut reader = Reader::new(bytes);
    match reader.item()? {
        Item::Nil => return Err(CodecError::BadKey("nil")),
        Item::Float(f) if f.is_nan() => return Err(CodecError::BadKey("NaN")),
        Item::Float(f) if float_to_integer(f).is_some() => {
            return Err(CodecError::BadKey("integral float not normalised"))
        }
        Item::InlineTable(_)
        | Item::Opaque(_)
        | Item::Function(_)
        | Item::Handle(_)
        | Item::HostFunction(_)
        | Item::HostObject(_) => return Err(CodecError::BadKey("not a key type")),
        _ => {}
    }
    if !reader.is_empty() {
        return Err(CodecError::TrailingBytes {
            at: reader.position(),
        });
    }
    Ok(())
}

/// The integer a float key stands for, as Lua normalises `t[2.0]` to `t[2]`.
pub fn float_to_integer(f: f64) -> Option<i64> {
    // -2^63 is exact as f64; 2^63 is not representable as i64.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        Some(f as i64)
    } else {
        None
    }
}

/// Appends encodings to a byte vector.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn nil(&mut self) {
        self.0.push(TAG_NIL);
    }
    pub fn boolean(&mut self, b: bool) {
        self.0.extend_from_slice(&[TAG_BOOLEAN, b as u8]);
    }
    pub fn integer(&mut self, i: i64) {
        let [a, b, c, d, e, f, g, h] = i.to_le_bytes();
        self.0
            .extend_from_slice(&[TAG_INTEGER, a, b, c, d, e, f, g, h]);
    }
    pub fn float(&mut self, f: f64) {
        self.0.push(TAG_FLOAT);
        self.0.extend_from_slice(&f.to_le_bytes());
    }
    /// A float as a key: integral values become integers.
    pub fn float_key(&mut self, f: f64) {
        match float_to_integer(f) {
            Some(i) => self.integer(i),
            None => self.float(f),
        }
    }
    pub fn string(&mut self, s: &[u8]) {
        self.bytes(TAG_STRING, s);
    }
    pub fn function(&mut self, s: &[u8]) {
        self.bytes(TAG_FUNCTION, s);
    }
    pub fn opaque(&mut self, type_name: &[u8]) {
        self.bytes(TAG_OPAQUE, type_name);
    }
    pub fn table_ref(&mut self, id: u32) {
        self.0.push(TAG_TABLE_REF);
        self.0.extend_from_slice(&id.to_le_bytes());
    }
    pub fn handle(&mut self, handle: u32) {
        self.0.push(TAG_HANDLE);
        self.0.extend_from_slice(&handle.to_le_bytes());
    }
    pub fn host_function(&mut self, id: u32) {
        self.0.push(TAG_HOST_FUNCTION);
        self.0.extend_from_slice(&id.to_le_bytes());
    }
    pub fn host_object(&mut self, id: u32) {
        self.0.push(TAG_HOST_OBJECT);
        self.0.extend_from_slice(&id.to_le_bytes());
    }
    pub fn inline_table(&mut self, entries: u32) {
        self.0.push(TAG_INLINE_TABLE);
        self.0.extend_from_slice(&entries.to_le_bytes());
    }
    pub fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn bytes(&mut self, tag: u8, s: &[u8]) {
        // Lengths past u32 cannot occur in wasm32; natively the store plan refuses them.
        let [a, b, c, d] = (s.len() as u32).to_le_bytes();
        // Every string key and value written goes through here: a short one is put together
        // on the stack and appended in one go.
        let mut short = [0; 32];
        short[..5].copy_from_slice(&[tag, a, b, c, d]);
        if let Some(to) = short.get_mut(5..5 + s.len()) {
            to.copy_from_slice(s);
            self.0.extend_from_slice(&short[..5 + s.len()]);
        } else {
            self.0.extend_from_slice(&short[..5]);
            self.0.extend_from_slice(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_sample(seed: &mut u64, out: &mut Vec<u8>, depth: usize) {
        let r = next(seed);
        let mut w = Writer(out);
        match r % if depth < 3 { 8 } else { 7 } {
            0 => w.nil(),
            1 => w.boolean(r & 256 != 0),
            2 => w.integer(next(seed) as i64),
            3 => w.float(f64::from_bits(next(seed))),
            4 => {
                let len = (next(seed) % 40) as usize;
                let s: Vec<u8> = (0..len).map(|_| next(seed) as u8).collect();
                w.string(&s)
            }
            5 => w.table_ref(next(seed) as u32),
            6 => w.opaque(b"thread"),
            _ => {
                let n = (next(seed) % 4) as u32;
                w.inline_table(n);
                for _ in 0..2 * n {
                    encode_sample(seed, out, depth + 1);
                }
            }
        }
    }

    fn next(seed: &mut u64) -> u64 {
        // xorshift64*: deterministic, so a failure reproduces.
        *seed ^= *seed >> 12;
        *seed ^= *seed << 25;
        *seed ^= *seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn round_trips_every_tag() {
        let mut out = Vec::new();
        let mut w = Writer(&mut out);
        w.nil();
        w.boolean(true);
        w.integer(-7);
        w.float(2.5);
        w.string(b"a\0b");
        w.function(b"proto");
        w.opaque(b"thread");
        w.table_ref(9);
        w.inline_table(0);
        let mut r = Reader::new(&out);
        let items: Vec<Item> = (0..9).map(|_| r.item().unwrap()).collect();
        assert_eq!(
            items,
            vec![
                Item::Nil,
                Item::Boolean(true),
                Item::Integer(-7),
                Item::Float(2.5),
                Item::String(b"a\0b"),
                Item::Function(b"proto"),
                Item::Opaque(b"thread"),
                Item::TableRef(9),
                Item::InlineTable(0),
            ]
        );
        assert!(r.is_empty());
    }

    #[test]
    fn float_keys_normalise_to_integers() {
        let mut out = Vec::new();
        Writer(&mut out).float_key(2.0);
        assert_eq!(Reader::new(&out).item().unwrap(), Item::Integer(2));
        out.clear();
        Writer(&mut out).float_key(2.5);
        assert_eq!(Reader::new(&out).item().unwrap(), Item::Float(2.5));
        assert_eq!(float_to_integer(9.3e18), None);
        assert_eq!(
            float_to_integer(-9_223_372_036_854_775_808.0),
            Some(i64::MIN)
        );
    }

    #[test]
    fn rejects_bad_keys() {
        let mut out = Vec::new();
        Writer(&mut out).nil();
        assert!(validate_key(&out).is_err());
        out.clear();
        Writer(&mut out).float(f64::NAN);
        assert!(validate_key(&out).is_err());
        out.clear();
        Writer(&mut out).float(3.0);
        assert!(validate_key(&out).is_err());
        out.clear();
        Writer(&mut out).string(b"k");
        assert!(validate_key(&out).is_ok());
    }

    #[test]
    fn random_values_round_trip_and_every_prefix_is_rejected() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut out = Vec::new();
            encode_sample(&mut seed, &mut out, 0);
            validate_value(&out).unwrap();
            for cut in 0..out.len() {
                assert!(
                    validate_value(&out[..cut]).is_err(),
                    "prefix {cut} accepted"
                );
            }
            let mut longer = out.clone();
            longer.push(0);
            assert!(validate_value(&longer).is_err());
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut seed = 42;
        for _ in 0..20_000 {
            let len = (next(&mut seed) % 24) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
            let _ = validate_value(&bytes);
            let _ = validate_key(&bytes);
        }
    }

    #[test]
    fn huge_declared_lengths_are_truncation_errors() {
        let bytes = [TAG_STRING, 0xff, 0xff, 0xff, 0xff, b'x'];
        assert_eq!(validate_value(&bytes), Err(CodecError::Truncated { at: 5 }));
        let bytes = [TAG_INLINE_TABLE, 0xff, 0xff, 0xff, 0xff];
        assert!(validate_value(&bytes).is_err());
    }

    #[test]
    fn deep_inline_tables_are_refused() {
        let mut out = Vec::new();
        for _ in 0..=MAX_INLINE_DEPTH + 1 {
            Writer(&mut out).inline_table(1);
            Writer(&mut out).integer(1);
        }
        Writer(&mut out).nil();
        assert_eq!(validate_value(&out), Err(CodecError::TooDeep));
    }
}
