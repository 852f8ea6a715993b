//! `string.pack`, `string.unpack` and `string.packsize` (Lua 5.4 binary formats).

use piccolo::{Callback, CallbackReturn, Context, Execution, Table, Value};

use crate::args::{Args, Name};
use crate::string::start_index;

/// The native alignment `!` selects, and the size of `size_t`/`lua_Integer`.
const NATIVE: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int(bool), // signed?
    Float,
    Double,
    Char,
    Str,
    Zstr,
    Padding,
    PadAlign,
    Nop,
}

struct Parser<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    max_align: usize,
}

impl<'a> Parser<'a> {
    fn number(&mut self) -> Option<usize> {
        let start = self.pos;
        let mut n: usize = 0;
        while self.pos < self.fmt.len() && self.fmt[self.pos].is_ascii_digit() {
            n = n
                .saturating_mul(10)
                .saturating_add((self.fmt[self.pos] - b'0') as usize);
            self.pos += 1;
        }
        (self.pos > start).then_some(n)
    }

    fn int_size(&mut self, default: usize) -> Result<usize, String> {
        let n = self.number().unwrap_or(default);
        if !(1..=16).contains(&n) {
            return Err(format!("integral size ({n}) out of limits [1,16]"));
        }
        Ok(n)
    }

    /// The next option: its kind, size and the padding needed before it at `total`.
    fn next(&mut self, total: usize) -> Result<Option<(Kind, usize, usize)>, String> {
        loop {
            let Some(&c) = self.fmt.get(self.pos) else {
                return Ok(None);
            };
            self.pos += 1;
            let (kind, size) = match c {
                b'b' => (Kind::Int(true), 1),
                b'B' => (Kind::Int(false), 1),
                b'h' => (Kind::Int(true), 2),
                b'H' => (Kind::Int(false), 2),
                b'l' | b'j' => (Kind::Int(true), 8),
                b'L' | b'J' | b'T' => (Kind::Int(false), 8),
                b'i' => (Kind::Int(true), self.int_size(4)?),
                b'I' => (Kind::Int(false), self.int_size(4)?),
                b'f' => (Kind::Float, 4),
                b'd' | b'n' => (Kind::Double, 8),
                b's' => (Kind::Str, self.int_size(NATIVE)?),
                b'z' => (Kind::Zstr, 0),
                b'x' => (Kind::Padding, 1),
                b'c' => match self.number() {
                    Some(n) => (Kind::Char, n),
                    None => return Err("missing size for format option 'c'".into()),
                },
                b'X' => {
                    let save = self.pos;
                    let next = self.next(total)?;
                    self.pos = save + 1;
                    match next {
                        Some((Kind::Char, _, _)) | None => {
                            return Err("invalid next option for option 'X'".into())
                        }
                        Some((_, 0, _)) => return Err("invalid next option for option 'X'".into()),
                        Some((k, size, _)) => {
                            // Skip the option's digits too.
                            if matches!(k, Kind::Int(_) | Kind::Str) {
                                self.number();
                            }
                            (Kind::PadAlign, size)
                        }
                    }
                }
                b' ' => continue,
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'!' => {
                    self.max_align = self.int_size(NATIVE)?;
                    continue;
                }
                other => return Err(format!("invalid format option '{}'", other as char)),
            };
            let mut align = size;
            if kind == Kind::Str {
                align = size;
            }
            let pad = if align <= 1 || matches!(kind, Kind::Char | Kind::Zstr | Kind::Padding) {
                0
            } else {
                let align = align.min(self.max_align);
                if !align.is_power_of_two() {
                    return Err("format asks for alignment not power of 2".into());
                }
                (align - (total & (align - 1))) & (align - 1)
            };
            let (kind, size) = if kind == Kind::PadAlign {
                (Kind::Nop, 0)
            } else {
                (kind, size)
            };
            return Ok(Some((kind, size, pad)));
        }
    }
}

fn parser(fmt: &[u8]) -> Parser<'_> {
    Parser {
        fmt,
        pos: 0,
        little: true,
        max_align: 1,
    }
}

fn write_int(out: &mut Vec<u8>, v: i64, size: usize, little: bool) {
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| {
            if i < 8 {
                (v >> (8 * i)) as u8
            } else if v < 0 {
                0xff
            } else {
                0
            }
        })
        .collect();
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn read_int(data: &[u8], little: bool, signed: bool) -> Result<i64, String> {
    let size = data.len();
    let byte = |i: usize| if little { data[i] } else { data[size - 1 - i] };
    let mut v: u64 = 0;
    for i in 0..size.min(8) {
        v |= (byte(i) as u64) << (8 * i);
    }
    if size < 8 {
        if signed && size > 0 && byte(size - 1) & 0x80 != 0 {
            v |= !0u64 << (8 * size);
        }
    } else {
        // Extra bytes must be a sign (or zero) extension.
        let fill = if signed && (v as i64) < 0 { 0xff } else { 0 };
        for i in 8..size {
            if byte(i) != fill {
                return Err(format!("{size}-byte integer does not fit into Lua Integer"));
            }
        }
    }
    Ok(v as i64)
}

pub(crate) fn load<'gc>(ctx: Context<'gc>, string: Table<'gc>) {
    let pack = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, Name::new("string", "pack"));
        let fmt = a.bytes(&stack, 0)?;
        let mut p = parser(fmt);
        let mut out = Vec::new();
        let mut arg = 1;
        while let Some((kind, size, pad)) = p.next(out.len()).map_err(|e| a.error(e))? {
            out.extend(std::iter::repeat_n(0u8, pad));
            match kind {
                Kind::Int(signed) => {
                    let v = a.integer(&stack, arg)?;
                    if size < 8 {
                        let bits = 8 * size as u32;
                        let ok = if signed {
                            let lim = 1i64 << (bits - 1);
                            -lim <= v && v < lim
                        } else {
                            (v as u64) < (1u64 << bits)
                        };
                        if !ok {
                            let what = if signed { "integer" } else { "unsigned" };
                            return Err(a.arg_error(arg + 1, format!("{what} overflow")));
                        }
                    }
                    write_int(&mut out, v, size, p.little);
                    arg += 1;
                }
                Kind::Float | Kind::Double => {
                    let v = a.number(&stack, arg)?;
                    let mut b = if kind == Kind::Float {
                        (v as f32).to_le_bytes().to_vec()
                    } else {
                        v.to_le_bytes().to_vec()
                    };
                    if !p.little {
                        b.reverse();
                    }
                    out.extend_from_slice(&b);
                    arg += 1;
                }
                Kind::Char => {
                    let s = a.bytes(&stack, arg)?;
                    if s.len() > size {
                        return Err(a.arg_error(arg + 1, "string longer than given size"));
                    }
                    out.extend_from_slice(s);
                    out.extend(std::iter::repeat_n(0u8, size - s.len()));
                    arg += 1;
                }
                Kind::Str => {
                    let s = a.bytes(&stack, arg)?;
                    if size < 8 && (s.len() as u64) >= 1u64 << (8 * size) {
                        return Err(
                            a.arg_error(arg + 1, "string length does not fit in given size")
                        );
                    }
                    write_int(&mut out, s.len() as i64, size, p.little);
                    out.extend_from_slice(s);
                    arg += 1;
                }
                Kind::Zstr => {
                    let s = a.bytes(&stack, arg)?;
                    if s.contains(&0) {
                        return Err(a.arg_error(arg + 1, "string contains zeros"));
                    }
                    out.extend_from_slice(s);
                    out.push(0);
                    arg += 1;
                }
                Kind::Padding => out.push(0),
                Kind::PadAlign | Kind::Nop => {}
            }
        }
        stack.replace(ctx, ctx.intern(&out));
        Ok(CallbackReturn::Return)
    });
    string.set(ctx, "pack", pack).unwrap();

    let packsize = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, Name::new("string", "packsize"));
        let fmt = a.bytes(&stack, 0)?;
        let mut p = parser(fmt);
        let mut total: usize = 0;
        while let Some((kind, size, pad)) = p.next(total).map_err(|e| a.error(e))? {
            if matches!(kind, Kind::Str | Kind::Zstr) {
                return Err(a.arg_error(1, "variable-length format"));
            }
            total = total.saturating_add(pad + size);
            if total > i32::MAX as usize {
                return Err(a.arg_error(1, "format result too large"));
            }
        }
        stack.replace(ctx, total as i64);
        Ok(CallbackReturn::Return)
    });
    string.set(ctx, "packsize", packsize).unwrap();

    let unpack = Callback::from_fn(&ctx, |ctx, exec: Execution, mut stack| {
        let a = Args::new(ctx, &exec, Name::new("string", "unpack"));
        let fmt = a.bytes(&stack, 0)?;
        let data = a.bytes(&stack, 1)?;
        let init = a.opt_integer(&stack, 2, 1)?;
        let mut pos = start_index(init, data.len()) - 1;
        if pos > data.len() {
            return Err(a.arg_error(3, "initial position out of string"));
        }
        let mut p = parser(fmt);
        let mut results: Vec<Value> = Vec::new();
        let short = || a.arg_error(2, "data string too short");
        while let Some((kind, size, pad)) = p.next(pos).map_err(|e| a.error(e))? {
            if pad + size > data.len() - pos {
                return Err(short());
            }
            pos += pad;
            match kind {
                Kind::Int(signed) => {
                    let v = read_int(&data[pos..pos + size], p.little, signed)
                        .map_err(|e| a.error(e))?;
                    results.push(v.into());
                }
                Kind::Float | Kind::Double => {
                    let mut b = data[pos..pos + size].to_vec();
                    if !p.little {
                        b.reverse();
                    }
                    let v = if kind == Kind::Float {
                        f32::from_le_bytes(b[..4].try_into().unwrap()) as f64
                    } else {
                        f64::from_le_bytes(b[..8].try_into().unwrap())
                    };
                    results.push(v.into());
                }
                Kind::Char => results.push(ctx.intern(&data[pos..pos + size]).into()),
                Kind::Str => {
                    let len = read_int(&data[pos..pos + size], p.little, false)
                        .map_err(|e| a.error(e))? as u64;
                    if len > (data.len() - pos - size) as u64 {
                        return Err(short());
                    }
                    let start = pos + size;
                    results.push(ctx.intern(&data[start..start + len as usize]).into());
                    pos += len as usize;
                }
                Kind::Zstr => {
                    let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                        return Err(a.arg_error(2, "unfinished string for format 'z'"));
                    };
                    results.push(ctx.intern(&data[pos..pos + end]).into());
                    pos += end + 1;
                }
                Kind::Padding | Kind::PadAlign | Kind::Nop => {}
            }
            pos += size;
        }
        results.push(((pos + 1) as i64).into());
        stack.replace(ctx, piccolo::Variadic(results));
        Ok(CallbackReturn::Return)
    });
    string.set(ctx, "unpack", unpack).unwrap();
}
