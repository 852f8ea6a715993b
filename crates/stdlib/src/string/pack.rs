//! `string.pack`, `string.unpack` and `string.packsize`: Lua 5.4's binary formats, with the
//! sizes of a 64-bit little-endian host (`int` 4 bytes, `long`, `size_t` and `lua_Integer` 8,
//! native alignment 8), as the reference lua5.4 on x86-64 has them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::lib::{at, at_mut, reserve, Action, Error, NativeCall};
use vm::state::Ctx;
use vm::value::Value;

use super::posrelat_start;

/// `sizeof(lua_Integer)`: integers of other sizes are checked or extended.
const INT_SIZE: usize = 8;
/// Largest integer size a format may ask for.
const MAX_INT_SIZE: usize = 16;
/// The alignment `!` without a number selects.
const NATIVE_ALIGN: usize = 8;
/// Formats sizes are limited to what fits an `int` (lua5.4's `MAXSIZE`).
const MAX_SIZE: u64 = i32::MAX as u64;

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int {
        signed: bool,
    },
    Float,
    Double,
    /// `cN`: a fixed-size string.
    Char,
    /// `sN`: a string preceded by its length.
    Str,
    /// `z`: a zero-terminated string.
    Zstr,
    /// `x`: one byte of padding.
    Padding,
    /// `Xop`: alignment only.
    PadAlign,
    /// Options that only set state (`<`, `>`, `=`, `!`, ` `).
    Nop,
}

/// One option of a format: its kind, its size and the padding that aligns it.
#[derive(Debug, PartialEq, Eq)]
struct Item {
    kind: Kind,
    size: usize,
    align_pad: usize,
}

/// A format being read, with the endianness and maximum alignment set so far.
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    max_align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        // The format is a C string in lua5.4: it ends at the first zero byte.
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        Format {
            fmt: at(fmt, ..end),
            pos: 0,
            little: true,
            max_align: 1,
        }
    }

    /// A decimal number at the current position, or `default`. Digits stop being read
    /// before the number could pass `MAX_SIZE`.
    fn number(&mut self, default: usize) -> usize {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return default;
        }
        let mut n: usize = 0;
        loop {
            n = n * 10 + (*at(self.fmt, self.pos) - b'0') as usize;
            self.pos += 1;
            let more = self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit);
            if !more || n > (MAX_SIZE as usize - 9) / 10 {
                return n;
            }
        }
    }

    fn int_size<'gc>(&mut self, default: usize) -> Result<usize, Error<'gc>> {
        let n = self.number(default);
        if !(1..=MAX_INT_SIZE).contains(&n) {
            return Err(Error::runtime(format!(
                "integral size ({n}) out of limits [1,{MAX_INT_SIZE}]"
            )));
        }
        Ok(n)
    }

    /// Reads one option: its kind and size.
    fn option<'gc>(&mut self) -> Result<(Kind, usize), Error<'gc>> {
        let c = *at(self.fmt, self.pos);
        self.pos += 1;
        Ok(match c {
            b'b' => (Kind::Int { signed: true }, 1),
            b'B' => (Kind::Int { signed: false }, 1),
            b'h' => (Kind::Int { signed: true }, 2),
            b'H' => (Kind::Int { signed: false }, 2),
            b'l' | b'j' => (Kind::Int { signed: true }, 8),
            b'L' | b'J' | b'T' => (Kind::Int { signed: false }, 8),
            b'i' => (Kind::Int { signed: true }, self.int_size(4)?),
            b'I' => (Kind::Int { signed: false }, self.int_size(4)?),
            b'f' => (Kind::Float, 4),
            b'd' | b'n' => (Kind::Double, 8),
            b's' => (Kind::Str, self.int_size(8)?),
            b'c' => {
                if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    return Err(Error::runtime("missing size for format option 'c'"));
                }
                (Kind::Char, self.number(0))
            }
            b'z' => (Kind::Zstr, 0),
            b'x' => (Kind::Padding, 1),
            b'X' => (Kind::PadAlign, 0),
            b' ' => (Kind::Nop, 0),
            b'<' | b'=' => {
                self.little = true;
                (Kind::Nop, 0)
            }
            b'>' => {
                self.little = false;
                (Kind::Nop, 0)
            }
            b'!' => {
                self.max_align = self.int_size(NATIVE_ALIGN)?;
                (Kind::Nop, 0)
            }
            _ => {
                // Pushed, not formatted: `char`'s `Display` would be the module's only one.
                let mut message = String::from("invalid format option '");
                message.push(c as char);
                message.push('\'');
                return Err(Error::runtime(message));
            }
        })
    }

    /// The next item, aligned for a data position of `total`, or `None` at the end.
    fn next<'gc>(&mut self, total: u64) -> Result<Option<Item>, Error<'gc>> {
        if self.pos >= self.fmt.len() {
            return Ok(None);
        }
        let (kind, size) = self.option()?;
        let mut align = size;
        if kind == Kind::PadAlign {
            // `X` takes its alignment from the option after it, which is otherwise ignored.
            let next = if self.pos < self.fmt.len() {
                Some(self.option()?)
            } else {
                None
            };
            match next {
                Some((k, a)) if k != Kind::Char && a != 0 => align = a,
                _ => return Err(Error::bad_arg(1, "invalid next option for option 'X'")),
            }
        }
        let align_pad = if align <= 1 || kind == Kind::Char {
            0
        } else {
            let align = align.min(self.max_align);
            if !align.is_power_of_two() {
                return Err(Error::bad_arg(
                    1,
                    "format asks for alignment not power of 2",
                ));
            }
            (align - (total as usize & (align - 1))) & (align - 1)
        };
        Ok(Some(Item {
            kind,
            size,
            align_pad,
        }))
    }
}

/// Appends the `size` low bytes of `v`, sign-extended past 8 bytes.
fn write_int(out: &mut Vec<u8>, v: u64, size: usize, little: bool, negative: bool) {
    let start = out.len();
    for i in 0..size {
        out.push(match i {
            0..=7 => (v >> (8 * i)) as u8,
            _ if negative => 0xff,
            _ => 0,
        });
    }
    if !little {
        at_mut(out, start..).reverse();
    }
}

/// Reads an integer of `data.len()` bytes; wider than 8 bytes, the extra bytes must only
/// extend the sign.
fn read_int<'gc>(data: &[u8], little: bool, signed: bool) -> Result<i64, Error<'gc>> {
    let size = data.len();
    let byte = |i: usize| {
        if little {
            *at(data, i)
        } else {
            *at(data, size - 1 - i)
        }
    };
    let mut v: u64 = 0;
    for i in (0..size.min(INT_SIZE)).rev() {
        v = (v << 8) | byte(i) as u64;
    }
    if size < INT_SIZE {
        if signed {
            let mask = 1u64 << (size * 8 - 1);
            v = (v ^ mask).wrapping_sub(mask);
        }
    } else if size > INT_SIZE {
        let fill = if signed && (v as i64) < 0 { 0xff } else { 0 };
        if (INT_SIZE..size).any(|i| byte(i) != fill) {
            return Err(Error::runtime(format!(
                "{size}-byte integer does not fit into Lua Integer"
            )));
        }
    }
    Ok(v as i64)
}

/// Makes room for `n` more bytes, within the longest string the state allows.
fn grow<'gc>(ctx: Ctx<'gc>, out: &mut Vec<u8>, n: usize) -> Result<(), Error<'gc>> {
    let total = out.len().checked_add(n);
    reserve(ctx, out, total.unwrap_or(usize::MAX))
}

/// `string.pack(fmt, v1, v2, ...)`.
pub fn pack<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let mut fmt = Format::new(call.check_bytes(ctx, 0)?);
    let mut out = Vec::new();
    let mut arg = 0;
    while let Some(item) = fmt.next(out.len() as u64)? {
        grow(ctx, &mut out, item.align_pad)?;
        out.resize(out.len() + item.align_pad, 0);
        if !matches!(item.kind, Kind::Padding | Kind::PadAlign | Kind::Nop) {
            arg += 1;
        }
        let size = item.size;
        match item.kind {
            Kind::Int { signed } => {
                let v = call.check_integer(ctx, arg)?;
                if size < INT_SIZE {
                    let bits = 8 * size as u32;
                    let fits = if signed {
                        let lim = 1i64 << (bits - 1);
                        -lim <= v && v < lim
                    } else {
                        (v as u64) < (1u64 << bits)
                    };
                    if !fits {
                        let what = if signed { "integer" } else { "unsigned" };
                        return Err(Error::bad_arg(arg + 1, format!("{what} overflow")));
                    }
                }
                write_int(&mut out, v as u64, size, fmt.little, signed && v < 0);
            }
            Kind::Float | Kind::Double => {
                let v = call.check_number(ctx, arg)?;
                let start = out.len();
                if item.kind == Kind::Float {
                    out.extend_from_slice(&(v as f32).to_le_bytes());
                } else {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                if !fmt.little {
                    at_mut(&mut out, start..).reverse();
                }
            }
            Kind::Char => {
                let s = call.check_bytes(ctx, arg)?;
                if s.len() > size {
                    return Err(Error::bad_arg(arg + 1, "string longer than given size"));
                }
                grow(ctx, &mut out, size)?;
                out.extend_from_slice(s);
                out.resize(out.len() + size - s.len(), 0);
            }
            Kind::Str => {
                let s = call.check_bytes(ctx, arg)?;
                if size < 8 && (s.len() as u64) >= 1u64 << (8 * size) {
                    return Err(Error::bad_arg(
                        arg + 1,
                        "string length does not fit in given size",
                    ));
                }
                write_int(&mut out, s.len() as u64, size, fmt.little, false);
                grow(ctx, &mut out, s.len())?;
                out.extend_from_slice(s);
            }
            Kind::Zstr => {
                let s = call.check_bytes(ctx, arg)?;
                if s.contains(&0) {
                    return Err(Error::bad_arg(arg + 1, "string contains zeros"));
                }
                grow(ctx, &mut out, s.len() + 1)?;
                out.extend_from_slice(s);
                out.push(0);
            }
            Kind::Padding => out.push(0),
            Kind::PadAlign | Kind::Nop => {}
        }
    }
    call.ret1(ctx.str_value(&out))
}

/// `string.packsize(fmt)`: the size of a format without variable-length options.
pub fn packsize<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let mut fmt = Format::new(call.check_bytes(ctx, 0)?);
    let mut total: u64 = 0;
    while let Some(item) = fmt.next(total)? {
        if matches!(item.kind, Kind::Str | Kind::Zstr) {
            return Err(Error::bad_arg(1, "variable-length format"));
        }
        let size = (item.size + item.align_pad) as u64;
        if total > MAX_SIZE - size.min(MAX_SIZE) || size > MAX_SIZE {
            return Err(Error::bad_arg(1, "format result too large"));
        }
        total += size;
    }
    call.ret1(Value::from(total as i64))
}

/// `string.unpack(fmt, s [, pos])`: the values, then the position after them.
pub fn unpack<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let mut fmt = Format::new(call.check_bytes(ctx, 0)?);
    let data = call.check_bytes(ctx, 1)?;
    let init = call.opt_integer(ctx, 2, 1)?;
    let start = posrelat_start(init, data.len()) - 1;
    if start > data.len() as u64 {
        return Err(Error::bad_arg(3, "initial position out of string"));
    }
    let mut pos = start as usize;
    let mut results: Vec<Value<'gc>> = Vec::new();
    let too_short = || Error::bad_arg(2, "data string too short");
    while let Some(item) = fmt.next(pos as u64)? {
        let size = item.size;
        if item.align_pad as u64 + size as u64 > (data.len() - pos) as u64 {
            return Err(too_short());
        }
        pos += item.align_pad;
        match item.kind {
            Kind::Int { signed } => {
                let v = read_int(at(data, pos..pos + size), fmt.little, signed)?;
                results.push(Value::Integer(v));
            }
            Kind::Float | Kind::Double => {
                let mut bytes = [0u8; 8];
                at_mut(&mut bytes, ..size).copy_from_slice(at(data, pos..pos + size));
                if !fmt.little {
                    at_mut(&mut bytes, ..size).reverse();
                }
                let v = if item.kind == Kind::Float {
                    f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64
                } else {
                    f64::from_le_bytes(bytes)
                };
                results.push(Value::Float(v));
            }
            Kind::Char => results.push(ctx.str_value(at(data, pos..pos + size))),
            Kind::Str => {
                let len = read_int(at(data, pos..pos + size), fmt.little, false)? as u64;
                if len > (data.len() - pos - size) as u64 {
                    return Err(too_short());
                }
                let from = pos + size;
                let len = len as usize;
                results.push(ctx.str_value(at(data, from..from + len)));
                pos += len;
            }
            Kind::Zstr => {
                let Some(len) = at(data, pos..).iter().position(|&c| c == 0) else {
                    return Err(Error::bad_arg(2, "unfinished string for format 'z'"));
                };
                results.push(ctx.str_value(at(data, pos..pos + len)));
                pos += len + 1;
            }
            Kind::Padding | Kind::PadAlign | Kind::Nop => {}
        }
        pos += size;
    }
    results.push(Value::Integer(pos as i64 + 1));
    ctx.charge_fuel(results.len() as i64);
    call.ret(&results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    fn items(fmt: &str) -> Vec<(Kind, usize, usize)> {
        let mut f = Format::new(fmt.as_bytes());
        let mut total = 0u64;
        let mut out = Vec::new();
        while let Some(item) = f.next(total).ok().unwrap() {
            total += (item.align_pad + item.size) as u64;
            out.push((item.kind, item.size, item.align_pad));
        }
        out
    }

    fn error(fmt: &str) -> String {
        let mut f = Format::new(fmt.as_bytes());
        loop {
            match f.next(0) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("{fmt} is valid"),
                Err(Error::Runtime(msg)) => return msg,
                Err(Error::BadArg { msg, .. }) => return msg,
                Err(Error::Value(_)) => unreachable!(),
            }
        }
    }

    #[test]
    fn options_sizes_and_alignment() {
        let signed = Kind::Int { signed: true };
        assert_eq!(items("i"), vec![(signed, 4, 0)]);
        assert_eq!(
            items("!4 b i"),
            vec![
                (Kind::Nop, 0, 0),
                (Kind::Nop, 0, 0),
                (signed, 1, 0),
                (Kind::Nop, 0, 0),
                (signed, 4, 3)
            ]
        );
        assert_eq!(
            items("!bXi8"),
            vec![(Kind::Nop, 0, 0), (signed, 1, 0), (Kind::PadAlign, 0, 7)]
        );
        assert_eq!(items("c3"), vec![(Kind::Char, 3, 0)]);
        assert_eq!(items("c1000000000"), vec![(Kind::Char, 1_000_000_000, 0)]);
        assert_eq!(items("i4\0i8"), vec![(signed, 4, 0)]);
    }

    #[test]
    fn format_errors() {
        assert_eq!(error("i17"), "integral size (17) out of limits [1,16]");
        assert_eq!(error("i0"), "integral size (0) out of limits [1,16]");
        assert_eq!(error("c"), "missing size for format option 'c'");
        assert_eq!(error("q"), "invalid format option 'q'");
        assert_eq!(error("X"), "invalid next option for option 'X'");
        assert_eq!(error("Xc1"), "invalid next option for option 'X'");
        assert_eq!(error("X "), "invalid next option for option 'X'");
        assert_eq!(error("!3i4"), "format asks for alignment not power of 2");
    }

    #[test]
    fn integers_round_trip() {
        for (v, size, signed) in [
            (-2i64, 2, true),
            (300, 2, false),
            (-1, 16, true),
            (5, 12, false),
        ] {
            for little in [true, false] {
                let mut out = Vec::new();
                write_int(&mut out, v as u64, size, little, v < 0);
                assert_eq!(out.len(), size);
                assert_eq!(read_int(&out, little, signed).ok(), Some(v));
            }
        }
        let mut wide = vec![0u8; 9];
        wide[8] = 1;
        assert!(read_int(&wide, true, false).is_err());
    }
}
