//! Reading a binary chunk into a [`FunctionProto`]. Only the encoding is checked here (the
//! verifier checks what the prototype means); every count is held against the bytes left
//! before anything is allocated for it, and nesting is bounded before it recurses.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::proto::{Constant, FunctionProto, LocalDesc, UpvalueDesc};

use super::verify::MAX_DEPTH;
use super::{ops, FORMAT_VERSION, MARKER, SIGNATURE, TEXT_CHECK};

/// Why the bytes are not a chunk, as the `(...)` of `bad binary format (...)`.
pub(super) type Malformed = &'static str;

/// lua5.4's word for a chunk that ends too early; a count larger than the bytes left can
/// only come from one too.
pub(super) const TRUNCATED: Malformed = "truncated chunk";

pub(super) fn chunk(bytes: &[u8]) -> Result<FunctionProto, Malformed> {
    let mut r = Reader::new(bytes);
    r.header()?;
    let main = r.proto(None, 0)?;
    if r.pos != bytes.len() {
        return Err("extra bytes after the chunk");
    }
    Ok(main)
}

/// A cursor over the chunk's bytes.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The first failure among an instruction's operands (see `ops::field`).
    pub(super) failed: Option<Malformed>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            pos: 0,
            failed: None,
        }
    }

    fn header(&mut self) -> Result<(), Malformed> {
        if self.take(SIGNATURE.len())? != SIGNATURE {
            return Err("not a binary chunk");
        }
        let marker = self.take(MARKER.len())?;
        if marker != MARKER {
            // lua5.x put their version byte (0x51..0x54) where our marker is.
            return Err(if (0x50..=0x5f).contains(&marker[0]) {
                "precompiled by PUC-Rio Lua, not by this VM"
            } else {
                "not a binary chunk"
            });
        }
        if self.take(2)? != FORMAT_VERSION.to_le_bytes() {
            return Err("format version mismatch");
        }
        if self.take(TEXT_CHECK.len())? != TEXT_CHECK {
            return Err("corrupted chunk");
        }
        Ok(())
    }

    fn proto(
        &mut self,
        parent_source: Option<&Rc<[u8]>>,
        depth: usize,
    ) -> Result<FunctionProto, Malformed> {
        if depth > MAX_DEPTH {
            return Err("functions nested too deeply");
        }
        let source = match self.uv()? {
            0 => match parent_source {
                Some(s) => Rc::clone(s),
                None => Rc::from(&b"=?"[..]),
            },
            n => Rc::from(self.take(len(n - 1))?),
        };
        let line_defined = self.u32()?;
        let last_line_defined = self.u32()?;
        let num_params = self.byte()?;
        let is_vararg = self.bool()?;
        let max_stack = self.byte()?;

        let n = self.count(1)?;
        let mut code = Vec::with_capacity(n);
        for _ in 0..n {
            code.push(ops::read_op(self)?);
        }

        let n = self.count(1)?;
        let mut constants = Vec::with_capacity(n);
        for _ in 0..n {
            constants.push(self.constant()?);
        }

        let n = self.count(2)?;
        let mut upvalues = Vec::with_capacity(n);
        for _ in 0..n {
            let in_stack = self.bool()?;
            let index = self.byte()?;
            upvalues.push(UpvalueDesc {
                in_stack,
                index,
                name: Box::default(),
            });
        }

        // The smallest prototype takes 13 bytes (every field present, every list empty).
        let n = self.count(13)?;
        let mut protos = Vec::with_capacity(n);
        for _ in 0..n {
            protos.push(self.proto(Some(&source), depth + 1)?);
        }

        let n = self.count(1)?;
        let mut lines = Vec::with_capacity(n);
        let mut line = i64::from(line_defined);
        for _ in 0..n {
            line = line
                .checked_add(self.sv()?)
                .filter(|l| u32::try_from(*l).is_ok())
                .ok_or("line number out of range")?;
            lines.push(line as u32);
        }

        let n = self.count(4)?;
        let mut locals = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.string()?;
            let reg = self.byte()?;
            let start_pc = self.u32()?;
            let end_pc = start_pc
                .checked_add(self.u32()?)
                .ok_or("local variable range out of range")?;
            locals.push(LocalDesc {
                name,
                reg,
                start_pc,
                end_pc,
            });
        }

        let n = self.count(1)?;
        if n != 0 && n != upvalues.len() {
            return Err("upvalue name count differs from the upvalue count");
        }
        for upvalue in upvalues.iter_mut().take(n) {
            upvalue.name = self.string()?;
        }

        Ok(FunctionProto {
            source,
            line_defined,
            last_line_defined,
            num_params,
            is_vararg,
            max_stack,
            code,
            lines,
            constants,
            protos,
            upvalues,
            locals,
        })
    }

    fn constant(&mut self) -> Result<Constant, Malformed> {
        Ok(match self.byte()? {
            0 => Constant::Nil,
            1 => Constant::Boolean(false),
            2 => Constant::Boolean(true),
            3 => Constant::Integer(self.sv()?),
            4 => {
                let bits = self.take(8)?;
                let mut le = [0u8; 8];
                le.copy_from_slice(bits);
                Constant::Float(f64::from_bits(u64::from_le_bytes(le)))
            }
            5 => Constant::String(self.string()?),
            _ => return Err("unknown constant tag"),
        })
    }

    fn string(&mut self) -> Result<Box<[u8]>, Malformed> {
        let n = self.uv()?;
        Ok(Box::from(self.take(len(n))?))
    }

    /// A count of items that take at least `min_bytes` each, checked against what is left.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Malformed> {
        let n = len(self.uv()?);
        if n > (self.bytes.len() - self.pos) / min_bytes {
            return Err(TRUNCATED);
        }
        Ok(n)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(TRUNCATED)?;
        let bytes = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub(super) fn byte(&mut self) -> Result<u8, Malformed> {
        let b = *self.bytes.get(self.pos).ok_or(TRUNCATED)?;
        self.pos += 1;
        Ok(b)
    }

    pub(super) fn bool(&mut self) -> Result<bool, Malformed> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("bad boolean"),
        }
    }

    /// An unsigned LEB128 varint of at most 64 bits.
    pub(super) fn uv(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("integer too large");
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("integer too large")
    }

    /// A zigzag-encoded signed varint.
    pub(super) fn sv(&mut self) -> Result<i64, Malformed> {
        let z = self.uv()?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    pub(super) fn u32(&mut self) -> Result<u32, Malformed> {
        u32::try_from(self.uv()?).map_err(|_| "integer too large")
    }

    pub(super) fn i32(&mut self) -> Result<i32, Malformed> {
        i32::try_from(self.sv()?).map_err(|_| "integer too large")
    }

    pub(super) fn i16(&mut self) -> Result<i16, Malformed> {
        i16::try_from(self.sv()?).map_err(|_| "integer too large")
    }
}

/// A length from the chunk as `usize`, saturated (it is checked against the bytes left).
fn len(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
