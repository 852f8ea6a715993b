//! `string.format`: every Lua 5.4 conversion with C's flags, width and precision, checked the
//! way lua5.4 checks them (the same messages for bad specifications).
//!
//! A `%s` whose argument has `__tostring` needs a call: formatting stops there
//! ([`Progress::ToString`]) and resumes at that conversion once the argument is a string.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::decimal::Digits;
use vm::lib::{at, metamethod, to_number, tostring_plain, type_name_for_message, Error, MetaEvent};
use vm::number::{
    float_to_int, write_exponent, write_float_g, write_int, write_non_finite, Number,
};
use vm::state::Ctx;
use vm::value::Value;

/// The characters a specification may have between `%` and the conversion.
const SPEC_CHARS: &[u8] = b"-+ #0123456789.";
/// Specifications (after `%`, conversion included) this long or longer are refused.
const MAX_SPEC: usize = 22;

/// Flags, width and precision of one conversion.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

/// Checks `form` (the specification without `%`, conversion included) against the flags
/// the conversion allows, as lua5.4 does: at most two digits of width and of precision.
fn parse_spec(form: &[u8], flags: &[u8], precision_ok: bool) -> Result<Spec, String> {
    let mut spec = Spec::default();
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
    let two_digits = |i: &mut usize| {
        let mut n = 0;
        for _ in 0..2 {
            match form.get(*i) {
                Some(c) if c.is_ascii_digit() => {
                    n = n * 10 + (c - b'0') as usize;
                    *i += 1;
                }
                _ => break,
            }
        }
        n
    };
    if form.get(i) != Some(&b'0') {
        spec.width = two_digits(&mut i);
        if form.get(i) == Some(&b'.') && precision_ok {
            i += 1;
            spec.precision = Some(two_digits(&mut i));
        }
    }
    if i + 1 != form.len() || !form[i].is_ascii_alphabetic() {
        return Err(format!(
            "invalid conversion specification: '%{}'",
            String::from_utf8_lossy(form)
        ));
    }
    Ok(spec)
}

/// Appends `body` padded to the width; with the `0` flag (when `zero_ok`), zeros go after
/// the first `sign_len` bytes (sign, `0x`).
fn pad(out: &mut Vec<u8>, spec: &Spec, sign_len: usize, body: &[u8], zero_ok: bool) {
    let fill = spec.width.saturating_sub(body.len());
    if spec.minus {
        out.extend_from_slice(body);
        out.resize(out.len() + fill, b' ');
    } else if spec.zero && zero_ok {
        out.extend_from_slice(at(body, ..sign_len));
        out.resize(out.len() + fill, b'0');
        out.extend_from_slice(at(body, sign_len..));
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(body);
    }
}

fn sign(negative: bool, spec: &Spec) -> &'static [u8] {
    if negative {
        b"-"
    } else if spec.plus {
        b"+"
    } else if spec.space {
        b" "
    } else {
        b""
    }
}

fn format_int(out: &mut Vec<u8>, spec: &Spec, conv: u8, n: i64) {
    let (negative, magnitude) = match conv {
        b'd' | b'i' => (n < 0, n.unsigned_abs()),
        _ => (false, n as u64),
    };
    let mut digits = Vec::new();
    match conv {
        b'o' => write_bits_base(&mut digits, magnitude, 3, 1, LOWER_HEX),
        b'x' => write_bits_base(&mut digits, magnitude, 4, 1, LOWER_HEX),
        b'X' => write_bits_base(&mut digits, magnitude, 4, 1, UPPER_HEX),
        _ => write_unsigned(&mut digits, magnitude),
    }
    let precision = spec.precision.unwrap_or(1);
    if precision == 0 && magnitude == 0 {
        digits.clear();
    }
    let zeros = precision.saturating_sub(digits.len());
    let prefix: &[u8] = match conv {
        b'o' if spec.alt && zeros == 0 && digits.first() != Some(&b'0') => b"0",
        b'x' if spec.alt && magnitude != 0 => b"0x",
        b'X' if spec.alt && magnitude != 0 => b"0X",
        b'd' | b'i' => sign(negative, spec),
        _ => b"",
    };
    let mut body = prefix.to_vec();
    body.resize(prefix.len() + zeros, b'0');
    body.extend_from_slice(&digits);
    pad(out, spec, prefix.len(), &body, spec.precision.is_none());
}

/// Appends `n` in decimal. Hand-written like the other bases: `core::fmt` would bring in
/// its own formatting code for `u64`.
fn write_unsigned(out: &mut Vec<u8>, n: u64) {
    match i64::try_from(n) {
        Ok(n) => write_int(out, n),
        // Past `i64::MAX`: the digits of `n / 10`, which fits, then the last one.
        Err(_) => {
            write_int(out, (n / 10) as i64);
            out.push(b'0' + (n % 10) as u8);
        }
    }
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `n` in base 8 or 16 (`bits` per digit: 3 or 4) with the digits `chars`, at least
/// `min_digits` digits (zeros first).
fn write_bits_base(out: &mut Vec<u8>, n: u64, bits: u32, min_digits: usize, chars: &[u8; 16]) {
    let from = |i: usize| n.checked_shr(bits * i as u32).unwrap_or(0);
    let mut count = min_digits;
    while from(count) != 0 {
        count += 1;
    }
    for i in (0..count).rev() {
        out.push(chars[(from(i) & ((1 << bits) - 1)) as usize]);
    }
}

/// `%e`: one digit, `precision` decimals, the exponent.
fn write_exp(out: &mut Vec<u8>, x: f64, precision: usize, alt: bool) {
    let (digits, exp) = Digits::significant(x, precision + 1);
    out.push(digits[0]);
    if precision > 0 || alt {
        out.push(b'.');
        out.extend_from_slice(&digits[1..]);
    }
    write_exponent(out, exp);
}

/// `%f`: `precision` decimals, exactly rounded.
fn write_fixed(out: &mut Vec<u8>, x: f64, precision: usize, alt: bool) {
    Digits::fixed(x, precision, out);
    if precision == 0 && alt {
        out.push(b'.');
    }
}

/// `%a` of a non-negative finite `x` as glibc writes it: `1.hhhp+e` for normal numbers,
/// `0.hhhp-1022` for subnormal ones; without a precision, as many hex digits as needed.
pub fn write_hex_float(out: &mut Vec<u8>, x: f64, precision: Option<usize>, alt: bool) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let mut frac = bits & ((1u64 << 52) - 1);
    let (mut lead, exp) = match (biased, frac) {
        (0, 0) => (0u64, 0),
        (0, _) => (0, -1022),
        _ => (1, biased - 1023),
    };
    let mut digits = 13usize;
    if let Some(p) = precision.filter(|&p| p < 13) {
        // Round the fraction to p hex digits, ties to even.
        let shift = (13 - p) * 4;
        let rest = frac & ((1u64 << shift) - 1);
        frac >>= shift;
        let half = 1u64 << (shift - 1);
        // With no hex digits kept, the leading digit is the one a tie rounds to even.
        let last_digit_odd = if p == 0 { lead & 1 == 1 } else { frac & 1 == 1 };
        if rest > half || (rest == half && last_digit_odd) {
            frac += 1;
            if frac >> (p * 4) != 0 {
                frac &= (1u64 << (p * 4)) - 1;
                lead += 1;
            }
        }
        digits = p;
    }
    let mut hex = Vec::new();
    if digits > 0 {
        write_bits_base(&mut hex, frac, 4, digits, LOWER_HEX);
    }
    match precision {
        None => {
            while hex.last() == Some(&b'0') {
                hex.pop();
            }
        }
        Some(p) => hex.resize(hex.len().max(p), b'0'),
    }
    out.extend_from_slice(b"0x");
    write_int(out, lead as i64);
    if !hex.is_empty() || alt {
        out.push(b'.');
        out.extend_from_slice(&hex);
    }
    out.push(b'p');
    if exp >= 0 {
        out.push(b'+');
    }
    write_int(out, exp);
}

fn format_float(out: &mut Vec<u8>, spec: &Spec, conv: u8, x: f64) {
    let mut body = sign(x.is_sign_negative(), spec).to_vec();
    let mut sign_len = body.len();
    let lower = conv.to_ascii_lowercase();
    if !x.is_finite() {
        write_non_finite(&mut body, x.abs(), false);
    } else {
        let magnitude = x.abs();
        match lower {
            b'e' => write_exp(&mut body, magnitude, spec.precision.unwrap_or(6), spec.alt),
            b'f' => write_fixed(&mut body, magnitude, spec.precision.unwrap_or(6), spec.alt),
            b'g' => write_float_g(&mut body, magnitude, spec.precision.unwrap_or(6), spec.alt),
            _ => {
                write_hex_float(&mut body, magnitude, spec.precision, spec.alt);
                // Zero padding goes after the "0x".
                sign_len += 2;
            }
        }
    }
    if conv.is_ascii_uppercase() {
        body.make_ascii_uppercase();
    }
    pad(out, spec, sign_len, &body, x.is_finite());
}

/// `%q` of a string: a Lua literal that reads back as the same bytes.
fn quote_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'"' | b'\\' | b'\n' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=31 | 127 => {
                out.push(b'\\');
                if s.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    out.extend_from_slice(&[b'0' + c / 100, b'0' + c / 10 % 10, b'0' + c % 10]);
                } else {
                    write_int(out, c as i64);
                }
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// `%q` of any value, or `None` when it has no literal form.
fn quote_value<'gc>(out: &mut Vec<u8>, ctx: Ctx<'gc>, v: Value<'gc>) -> Option<()> {
    match v {
        Value::String(s) => quote_string(out, s.as_bytes()),
        // The most negative integer has no decimal literal (its negation overflows).
        Value::Integer(i64::MIN) => out.extend_from_slice(b"0x8000000000000000"),
        Value::Integer(n) => write_int(out, n),
        Value::Float(f) if f == f64::INFINITY => out.extend_from_slice(b"1e9999"),
        Value::Float(f) if f == f64::NEG_INFINITY => out.extend_from_slice(b"-1e9999"),
        Value::Float(f) if f.is_nan() => out.extend_from_slice(b"(0/0)"),
        Value::Float(f) => {
            // Hexadecimal reads back exactly.
            if f.is_sign_negative() {
                out.push(b'-');
            }
            write_hex_float(out, f.abs(), None, false);
        }
        Value::Nil | Value::Boolean(_) => out.extend_from_slice(&tostring_plain(ctx, v)),
        _ => return None,
    }
    Some(())
}

/// Where formatting stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// At the conversion starting at byte `at`, a `%s` whose argument `args[arg]` has
    /// `__tostring`.
    ToString {
        at: usize,
        arg: usize,
    },
}

/// Formats `fmt` from byte `from` on, appending to `out`; the conversions before `from`
/// used `used` arguments (`args[0]` is the format string itself).
pub fn format<'gc>(
    ctx: Ctx<'gc>,
    fmt: &[u8],
    args: &[Value<'gc>],
    from: usize,
    used: usize,
    out: &mut Vec<u8>,
) -> Result<Progress, Error<'gc>> {
    let mut arg = used;
    let mut i = from;
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
        let spec_at = i - 1;
        arg += 1;
        let Some(&v) = args.get(arg) else {
            return Err(Error::bad_arg(arg + 1, "no value"));
        };
        let start = i;
        while i < fmt.len() && SPEC_CHARS.contains(&fmt[i]) {
            i += 1;
        }
        let form = at(fmt, start..(i + 1).min(fmt.len()));
        if form.len() >= MAX_SPEC {
            return Err(Error::runtime("invalid format (too long)"));
        }
        let conv = fmt.get(i).copied().unwrap_or(0);
        i += 1;
        let check = |flags: &[u8], precision: bool| {
            parse_spec(form, flags, precision).map_err(Error::runtime)
        };
        let number_expected = |v: Value<'gc>| {
            Error::bad_arg(
                arg + 1,
                format!("number expected, got {}", type_name_for_message(ctx, v)),
            )
        };
        let integer = |v: Value<'gc>| match to_number(v) {
            Some(Number::Int(n)) => Ok(n),
            Some(Number::Float(f)) => float_to_int(f)
                .ok_or_else(|| Error::bad_arg(arg + 1, "number has no integer representation")),
            None => Err(number_expected(v)),
        };
        let number = |v: Value<'gc>| match to_number(v) {
            Some(Number::Int(n)) => Ok(n as f64),
            Some(Number::Float(f)) => Ok(f),
            None => Err(number_expected(v)),
        };
        match conv {
            b'c' => {
                let spec = check(b"-", false)?;
                let n = integer(v)?;
                pad(out, &spec, 0, &[n as u8], false);
            }
            b'd' | b'i' => {
                let n = integer(v)?;
                format_int(out, &check(b"-+ 0", true)?, conv, n);
            }
            b'u' => {
                let n = integer(v)?;
                format_int(out, &check(b"-0", true)?, conv, n);
            }
            b'o' | b'x' | b'X' => {
                let n = integer(v)?;
                format_int(out, &check(b"-#0", true)?, conv, n);
            }
            b'a' | b'A' => {
                let spec = check(b"-+ #0", true)?;
                format_float(out, &spec, conv, number(v)?);
            }
            b'e' | b'E' | b'f' | b'g' | b'G' => {
                let x = number(v)?;
                format_float(out, &check(b"-+ #0", true)?, conv, x);
            }
            b'p' => {
                let spec = check(b"-", false)?;
                let text = match v.addr() {
                    Some(addr) => {
                        let mut text = b"0x".to_vec();
                        write_bits_base(&mut text, addr as u64, 4, 8, LOWER_HEX);
                        text
                    }
                    None => b"(null)".to_vec(),
                };
                pad(out, &spec, 0, &text, false);
            }
            b'q' => {
                if form.len() > 1 {
                    return Err(Error::runtime("specifier '%q' cannot have modifiers"));
                }
                quote_value(out, ctx, v)
                    .ok_or_else(|| Error::bad_arg(arg + 1, "value has no literal form"))?;
            }
            b's' => {
                if !metamethod(ctx, v, MetaEvent::ToString).is_nil() {
                    return Ok(Progress::ToString { at: spec_at, arg });
                }
                let s = tostring_plain(ctx, v);
                if form.len() == 1 {
                    out.extend_from_slice(&s);
                } else {
                    if s.contains(&0) {
                        return Err(Error::bad_arg(arg + 1, "string contains zeros"));
                    }
                    let spec = check(b"-", true)?;
                    match spec.precision {
                        // Too long to be formatted: lua5.4 keeps it whole.
                        None if s.len() >= 100 => out.extend_from_slice(&s),
                        Some(p) if p < s.len() => pad(out, &spec, 0, &s[..p], false),
                        _ => pad(out, &spec, 0, &s, false),
                    }
                }
            }
            _ => {
                return Err(Error::runtime(format!(
                    "invalid conversion '%{}' to 'format'",
                    String::from_utf8_lossy(form)
                )))
            }
        }
    }
    Ok(Progress::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(conv: u8, form: &str, x: f64) -> String {
        let spec = parse_spec(form.as_bytes(), b"-+ #0", true).unwrap();
        let mut out = Vec::new();
        format_float(&mut out, &spec, conv, x);
        String::from_utf8(out).unwrap()
    }

    fn int(conv: u8, form: &str, n: i64) -> String {
        let spec = parse_spec(form.as_bytes(), b"-+ #0", true).unwrap();
        let mut out = Vec::new();
        format_int(&mut out, &spec, conv, n);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_as_glibc_prints_them() {
        assert_eq!(float(b'f', "5.2f", 1.0), " 1.00");
        assert_eq!(float(b'e', "e", 12345.678), "1.234568e+04");
        assert_eq!(float(b'g', "g", 1e20), "1e+20");
        assert_eq!(float(b'a', "a", 1.0), "0x1p+0");
        assert_eq!(float(b'A', "A", 0.5), "0X1P-1");
        assert_eq!(float(b'a', ".0a", 1.5), "0x2p+0");
        assert_eq!(float(b'a', ".1a", 1.96875), "0x2.0p+0");
        assert_eq!(
            float(b'a', "a", f64::from_bits(1)),
            "0x0.0000000000001p-1022"
        );
        assert_eq!(float(b'a', "a", -0.0), "-0x0p+0");
        assert_eq!(float(b'a', ".2a", 0.0), "0x0.00p+0");
        assert_eq!(float(b'A', "A", 255.5), "0X1.FFP+7");
        assert_eq!(float(b'g', "#.3g", 1.0), "1.00");
        assert_eq!(float(b'g', "#g", 0.0001), "0.000100000");
        assert_eq!(float(b'f', "#.0f", 3.0), "3.");
        assert_eq!(float(b'e', "#.0e", 3.0), "3.e+00");
        assert_eq!(float(b'a', "#a", 2.0), "0x1.p+1");
        assert_eq!(float(b'e', ".3e", 0.0), "0.000e+00");
        assert_eq!(float(b'e', "10.2e", -1.5), " -1.50e+00");
        assert_eq!(float(b'e', "-10.2e", 1e-300), "1.00e-300 ");
        assert_eq!(float(b'E', "E", 1e300), "1.000000E+300");
        assert_eq!(float(b'g', "5.1g", 123456.0), "1e+05");
        assert_eq!(float(b'G', "G", 1e-10), "1E-10");
        assert_eq!(float(b'f', "+.0f", 0.5), "+0");
        assert_eq!(float(b'f', " .0f", 1.5), " 2");
        assert_eq!(float(b'f', "05.0f", -2.5), "-0002");
        assert_eq!(float(b'f', "05.1f", 3.25159), "003.3");
        assert_eq!(float(b'a', "010.3a", 1.0), "0x1.000p+0");
        assert_eq!(
            float(b'f', "020.5f", f64::NEG_INFINITY),
            "                -inf"
        );
        assert_eq!(float(b'f', "-10f", -f64::NAN), "-nan      ");
        assert_eq!(float(b'f', "+f", f64::INFINITY), "+inf");
    }

    #[test]
    fn integers_as_c_prints_them() {
        assert_eq!(int(b'd', "+d", 3), "+3");
        assert_eq!(int(b'd', " d", 4), " 4");
        assert_eq!(int(b'd', "05d", -5), "-0005");
        assert_eq!(int(b'x', "#x", 255), "0xff");
        assert_eq!(int(b'x', "#x", 0), "0");
        assert_eq!(int(b'o', "#o", 8), "010");
        assert_eq!(int(b'u', "u", -1), "18446744073709551615");
        assert_eq!(int(b'u', "10.3u", 5), "       005");
        assert_eq!(int(b'd', "-+8d", 42), "+42     ");
        assert_eq!(int(b'd', ".0d", 0), "");
        assert_eq!(int(b'X', "X", 255), "FF");
        assert_eq!(int(b'o', "o", -1), "1777777777777777777777");
        assert_eq!(int(b'x', "x", 0x1005), "1005");
        assert_eq!(int(b'X', "#.6X", 0xab0), "0X000AB0");
        assert_eq!(int(b'o', "o", 0o7007), "7007");
        assert_eq!(int(b'o', "#.4o", 8), "0010");
        assert_eq!(int(b'o', "#.0o", 0), "0");
        assert_eq!(int(b'x', "x", i64::MIN), "8000000000000000");
        assert_eq!(int(b'd', "d", i64::MIN), "-9223372036854775808");
        assert_eq!(int(b'd', "05.3d", -7), " -007");
        assert_eq!(int(b'u', "u", -10), "18446744073709551606");
        assert_eq!(int(b'i', "i", 1000200), "1000200");
    }

    #[test]
    fn specifications_are_checked() {
        assert!(parse_spec(b"100d", b"-+ 0", true).is_err());
        assert!(parse_spec(b".123d", b"-+ 0", true).is_err());
        assert!(parse_spec(b"#d", b"-+ 0", true).is_err());
        assert!(parse_spec(b"0-5d", b"-+ 0", true).is_ok());
        assert_eq!(
            parse_spec(b"5.2.1f", b"-+ #0", true).err().unwrap(),
            "invalid conversion specification: '%5.2.1f'"
        );
    }

    #[test]
    fn quoted_strings_read_back() {
        let mut out = Vec::new();
        quote_string(&mut out, b"a\x001\r\n\"\\");
        assert_eq!(out, b"\"a\\0001\\13\\\n\\\"\\\\\"");
    }
}
