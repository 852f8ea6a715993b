//! `string.format`: every Lua 5.4 conversion with C `printf` flags, width and precision,
//! checked the way `lstrlib.c` checks them (the same messages for bad specifications).

use piccolo::{Context, Error, Execution, Value};

use crate::args::{Args, Name};
use crate::base::plain_tostring;
use crate::num;

const NAME: Name = Name::new("string", "format");

/// Indexes (into the whole argument list) of the values `%s` conversions consume: these go
/// through `__tostring` before formatting.
pub(crate) fn string_args(fmt: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut arg = 0;
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        if fmt.get(i) == Some(&b'%') {
            i += 1;
            continue;
        }
        arg += 1;
        while i < fmt.len() && b"-+ #0123456789.".contains(&fmt[i]) {
            i += 1;
        }
        if fmt.get(i) == Some(&b's') {
            out.push(arg);
        }
        i += 1;
    }
    out
}

struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

/// Checks a specification's flags against those `conv` allows; `Err` holds the message.
fn parse_spec(form: &[u8], flags: &[u8], precision_ok: bool) -> Result<Spec, String> {
    let bad = || {
        format!(
            "invalid conversion specification: '%{}'",
            String::from_utf8_lossy(form)
        )
    };
    let mut spec = Spec {
        minus: false,
        plus: false,
        space: false,
        alt: false,
        zero: false,
        width: 0,
        precision: None,
    };
    let mut i = 0;
    while i < form.len() && flags.contains(&form[i]) {
        match form[i] {
            b'-' => spec.minus = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            _ => spec.zero = true,
        }
        i += 1;
    }
    let digits = |i: &mut usize| {
        let mut n = 0;
        let mut count = 0;
        while count < 2 && *i < form.len() && form[*i].is_ascii_digit() {
            n = n * 10 + (form[*i] - b'0') as usize;
            *i += 1;
            count += 1;
        }
        n
    };
    if form.get(i) != Some(&b'0') {
        spec.width = digits(&mut i);
        if form.get(i) == Some(&b'.') && precision_ok {
            i += 1;
            spec.precision = Some(digits(&mut i));
        }
    }
    if i + 1 != form.len() || !form[i].is_ascii_alphabetic() {
        return Err(bad());
    }
    Ok(spec)
}

fn pad(out: &mut Vec<u8>, spec: &Spec, sign_len: usize, body: &[u8], zero_ok: bool) {
    let fill = spec.width.saturating_sub(body.len());
    if spec.minus {
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.zero && zero_ok {
        out.extend_from_slice(&body[..sign_len]);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(&body[sign_len..]);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(body);
    }
}

fn sign_prefix(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_int(out: &mut Vec<u8>, spec: &Spec, conv: u8, n: i64) {
    let (negative, magnitude) = match conv {
        b'd' | b'i' => (n < 0, n.unsigned_abs()),
        _ => (false, n as u64),
    };
    let mut digits = match conv {
        b'o' => format!("{magnitude:o}"),
        b'x' => format!("{magnitude:x}"),
        b'X' => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    if let Some(p) = spec.precision {
        if p == 0 && magnitude == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match conv {
        b'o' if spec.alt && !digits.starts_with('0') => "0",
        b'x' if spec.alt && magnitude != 0 => "0x",
        b'X' if spec.alt && magnitude != 0 => "0X",
        b'd' | b'i' => sign_prefix(negative, spec),
        _ => "",
    };
    let body = format!("{prefix}{digits}");
    pad(
        out,
        spec,
        prefix.len(),
        body.as_bytes(),
        spec.precision.is_none(),
    );
}

fn format_float(out: &mut Vec<u8>, spec: &Spec, conv: u8, x: f64) {
    let upper = conv.is_ascii_uppercase();
    let mut body = match conv.to_ascii_lowercase() {
        b'e' => num::fmt_e(x, spec.precision.unwrap_or(6), upper),
        b'f' => num::fmt_f(x, spec.precision.unwrap_or(6), upper),
        b'g' => num::fmt_g(x, spec.precision.unwrap_or(6), upper, spec.alt),
        _ => num::fmt_a(x, spec.precision, upper),
    };
    if spec.alt && !body.contains('.') && x.is_finite() && matches!(conv, b'e' | b'E' | b'f' | b'F')
    {
        match body.find(['e', 'E']) {
            Some(i) => body.insert(i, '.'),
            None => body.push('.'),
        }
    }
    let negative = body.starts_with('-');
    let digits = body.trim_start_matches('-');
    let sign = sign_prefix(negative, spec);
    let mut sign_len = sign.len();
    if conv.eq_ignore_ascii_case(&b'a') && x.is_finite() {
        sign_len += 2; // zero padding goes after "0x"
    }
    let body = format!("{sign}{digits}");
    pad(out, spec, sign_len, body.as_bytes(), x.is_finite());
}

fn quote_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'"' | b'\\' | b'\n' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=31 | 127 => {
                let next_is_digit = s.get(i + 1).is_some_and(u8::is_ascii_digit);
                let esc = if next_is_digit {
                    format!("\\{c:03}")
                } else {
                    format!("\\{c}")
                };
                out.extend_from_slice(esc.as_bytes());
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// Formats `values[0]` with `values[1..]`; `%s` arguments have already been through
/// `__tostring` where they have one.
pub(crate) fn format<'gc>(
    ctx: Context<'gc>,
    exec: &Execution<'gc, '_>,
    values: &[Value<'gc>],
) -> Result<Vec<u8>, Error<'gc>> {
    let a = Args::new(ctx, exec, NAME);
    let fmt = match values.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => num::number_to_string(*v).into_bytes(),
        _ => {
            let got = values.first().map_or("no value", |v| v.type_name());
            return Err(a.arg_error(1, format!("string expected, got {got}")));
        }
    };
    let mut out = Vec::with_capacity(fmt.len());
    let mut arg = 0;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        if fmt.get(i) == Some(&b'%') {
            out.push(b'%');
            i += 1;
            continue;
        }
        let start = i;
        while i < fmt.len() && b"-+ #0123456789.".contains(&fmt[i]) {
            i += 1;
        }
        let form = &fmt[start..(i + 1).min(fmt.len())];
        if form.len() >= 22 {
            return Err(a.error("invalid format string to 'format'"));
        }
        let conv = fmt.get(i).copied().unwrap_or(0);
        i += 1;
        arg += 1;
        let Some(&v) = values.get(arg) else {
            return Err(a.arg_error(arg + 1, "no value"));
        };
        let check = |flags: &[u8], precision: bool| {
            parse_spec(form, flags, precision).map_err(|m| a.error(m))
        };
        let integer = |v: Value<'gc>| match num::to_integer_strict(v) {
            Some(n) => Ok(n),
            None if num::to_number(v).is_some() => {
                Err(a.arg_error(arg + 1, "number has no integer representation"))
            }
            None => Err(a.arg_error(
                arg + 1,
                format!("number expected, got {}", crate::args::type_name(ctx, v)),
            )),
        };
        let number = |v: Value<'gc>| {
            num::to_number(v).ok_or_else(|| {
                a.arg_error(
                    arg + 1,
                    format!("number expected, got {}", crate::args::type_name(ctx, v)),
                )
            })
        };
        match conv {
            b'c' => {
                let spec = check(b"-", false)?;
                let n = integer(v)?;
                pad(&mut out, &spec, 0, &[n as u8], false);
            }
            b'd' | b'i' => {
                let spec = check(b"-+ 0", true)?;
                format_int(&mut out, &spec, conv, integer(v)?);
            }
            b'u' => {
                let spec = check(b"-0", true)?;
                format_int(&mut out, &spec, conv, integer(v)?);
            }
            b'o' | b'x' | b'X' => {
                let spec = check(b"-#0", true)?;
                format_int(&mut out, &spec, conv, integer(v)?);
            }
            b'a' | b'A' | b'e' | b'E' | b'f' | b'F' | b'g' | b'G' => {
                let spec = check(b"-+ #0", true)?;
                format_float(&mut out, &spec, conv, number(v)?);
            }
            b'p' => {
                let spec = check(b"-", false)?;
                let text = match v {
                    Value::Table(_)
                    | Value::Function(_)
                    | Value::Thread(_)
                    | Value::UserData(_) => {
                        let s = plain_tostring(ctx, v);
                        let at = s.iter().position(|&b| b == b' ').map_or(0, |p| p + 1);
                        s[at..].to_vec()
                    }
                    _ => b"(null)".to_vec(),
                };
                pad(&mut out, &spec, 0, &text, false);
            }
            b'q' => {
                if form.len() > 1 {
                    return Err(a.error("specifier '%q' cannot have modifiers"));
                }
                match v {
                    Value::String(s) => quote_string(&mut out, s.as_bytes()),
                    Value::Integer(n) if n == i64::MIN => {
                        out.extend_from_slice(b"0x8000000000000000")
                    }
                    Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
                    Value::Number(f) => {
                        let text = if f == f64::INFINITY {
                            "1e9999".to_string()
                        } else if f == f64::NEG_INFINITY {
                            "-1e9999".to_string()
                        } else if f.is_nan() {
                            "(0/0)".to_string()
                        } else {
                            num::fmt_a(f, None, false)
                        };
                        out.extend_from_slice(text.as_bytes());
                    }
                    Value::Nil | Value::Boolean(_) => {
                        out.extend_from_slice(&plain_tostring(ctx, v))
                    }
                    _ => return Err(a.arg_error(arg + 1, "value has no literal form")),
                }
            }
            b's' => {
                let spec = check(b"-", true)?;
                let s = match v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => plain_tostring(ctx, v),
                };
                if form.len() == 1 {
                    out.extend_from_slice(&s);
                } else {
                    if s.contains(&0) {
                        return Err(a.arg_error(arg + 1, "string contains zeros"));
                    }
                    if spec.precision.is_none() && s.len() >= 100 {
                        out.extend_from_slice(&s);
                    } else {
                        let s = match spec.precision {
                            Some(p) if p < s.len() => &s[..p],
                            _ => &s[..],
                        };
                        pad(&mut out, &spec, 0, s, false);
                    }
                }
            }
            _ => {
                return Err(a.error(format!(
                    "invalid conversion '%{}' to 'format'",
                    String::from_utf8_lossy(form)
                )))
            }
        }
    }
    Ok(out)
}
