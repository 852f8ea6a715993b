//! Numbers as Lua 5.4 reads and writes them: `lua_stringtonumber` and the C `printf`
//! conversions (`%.14g` for `tostring`, `%e %f %g %a` for `string.format`).
//!
//! Rust's float formatting with an explicit precision rounds exactly (like glibc), so the C
//! conversions are built on it; only the layout (exponent digits, `%g` choice, trailing zeros)
//! is done here.

use piccolo::Value;

/// A parsed Lua numeral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// `lua_stringtonumber`: an integer if the text is an integer numeral that fits, else a float.
pub(crate) fn parse(s: &[u8]) -> Option<Num> {
    let s = trim(s);
    parse_int(s).or_else(|| parse_float(s).map(Num::Float))
}

fn parse_int(s: &[u8]) -> Option<Num> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.len() > 2 && digits[0] == b'0' && (digits[1] | 0x20) == b'x' {
        // Hexadecimal integers wrap around, as in Lua.
        let mut a: u64 = 0;
        for &b in &digits[2..] {
            a = a
                .wrapping_mul(16)
                .wrapping_add((b as char).to_digit(16)? as u64);
        }
        let a = a as i64;
        return Some(Num::Int(if neg { a.wrapping_neg() } else { a }));
    }
    if digits.is_empty() {
        return None;
    }
    let mut a: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        a = a.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    // Decimal integers that overflow become floats.
    if neg {
        if a > 1 << 63 {
            return None;
        }
        Some(Num::Int((a as i64).wrapping_neg()))
    } else if a > i64::MAX as u64 {
        None
    } else {
        Some(Num::Int(a as i64))
    }
}

fn parse_float(s: &[u8]) -> Option<f64> {
    if s.iter().any(|&b| b == b'n' || b == b'N') {
        return None;
    }
    if s.iter().any(|&b| b == b'x' || b == b'X') {
        return parse_hex_float(s);
    }
    if !s
        .iter()
        .all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

fn parse_hex_float(s: &[u8]) -> Option<f64> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if s.len() < 2 || s[0] != b'0' || (s[1] | 0x20) != b'x' {
        return None;
    }
    let mut i = 2;
    let mut mantissa = 0f64;
    let mut exp: i64 = 0;
    let mut any = false;
    let mut seen_dot = false;
    while i < s.len() {
        let b = s[i];
        if b == b'.' && !seen_dot {
            seen_dot = true;
        } else if let Some(d) = (b as char).to_digit(16) {
            any = true;
            mantissa = mantissa * 16.0 + d as f64;
            if seen_dot {
                exp -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < s.len() && (s[i] | 0x20) == b'p' {
        i += 1;
        let (eneg, rest) = match s.get(i) {
            Some(b'-') => (true, i + 1),
            Some(b'+') => (false, i + 1),
            _ => (false, i),
        };
        i = rest;
        let start = i;
        let mut e: i64 = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            e = (e * 10 + (s[i] - b'0') as i64).min(100_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp += if eneg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    let v = mantissa * 2f64.powi(exp.clamp(-5000, 5000) as i32);
    Some(if neg { -v } else { v })
}

/// A value as a Lua number (strings are converted), or `None`.
pub(crate) fn to_number(v: Value) -> Option<f64> {
    to_num(v).map(Num::to_f64)
}

pub(crate) fn to_num(v: Value) -> Option<Num> {
    match v {
        Value::Integer(i) => Some(Num::Int(i)),
        Value::Number(f) => Some(Num::Float(f)),
        Value::String(s) => parse(s.as_bytes()),
        _ => None,
    }
}

/// A float with an exact integer value in range, as an integer (`lua_numbertointeger`).
pub(crate) fn float_to_integer(f: f64) -> Option<i64> {
    if f.floor() == f && (-9223372036854775808.0..9223372036854775808.0).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// `luaL_checkinteger`'s conversion: integers, integral floats and strings holding either.
pub(crate) fn to_integer_strict(v: Value) -> Option<i64> {
    match to_num(v)? {
        Num::Int(i) => Some(i),
        Num::Float(f) => float_to_integer(f),
    }
}

/// `tostring` of a number: integers plainly, floats as `%.14g` with `.0` if they look integral.
pub(crate) fn number_to_string(v: Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Number(f) => float_to_string(f),
        _ => String::new(),
    }
}

pub(crate) fn float_to_string(f: f64) -> String {
    let mut s = fmt_g(f, 14, false, false);
    if s.bytes().all(|b| b == b'-' || b.is_ascii_digit()) {
        s.push_str(".0");
    }
    s
}

fn non_finite(x: f64, upper: bool) -> Option<String> {
    let s = if x.is_nan() {
        if x.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
    } else if x.is_infinite() {
        if x < 0.0 {
            "-inf"
        } else {
            "inf"
        }
    } else {
        return None;
    };
    Some(if upper {
        s.to_ascii_uppercase()
    } else {
        s.to_string()
    })
}

/// C's `%.{prec}e`.
pub(crate) fn fmt_e(x: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = non_finite(x, upper) {
        return s;
    }
    let s = format!("{:.*e}", prec, x);
    let (mantissa, exp) = s.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent digits");
    let sign = if exp < 0 { '-' } else { '+' };
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{sign}{:02}", exp.abs())
}

/// C's `%.{prec}f`.
pub(crate) fn fmt_f(x: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = non_finite(x, upper) {
        return s;
    }
    format!("{:.*}", prec, x)
}

/// C's `%.{prec}g` (`alt` is the `#` flag, which keeps trailing zeros).
pub(crate) fn fmt_g(x: f64, prec: usize, upper: bool, alt: bool) -> String {
    if let Some(s) = non_finite(x, upper) {
        return s;
    }
    let p = prec.max(1);
    let exp = if x == 0.0 {
        0
    } else {
        let s = format!("{:.*e}", p - 1, x);
        s.split_once('e').unwrap().1.parse::<i32>().unwrap()
    };
    let mut s = if (exp as i64) < p as i64 && exp >= -4 {
        fmt_f(x, (p as i64 - 1 - exp as i64) as usize, upper)
    } else {
        fmt_e(x, p - 1, upper)
    };
    if !alt {
        let (body, tail) = match s.find(['e', 'E']) {
            Some(i) => s.split_at(i),
            None => (s.as_str(), ""),
        };
        if body.contains('.') {
            let body = body.trim_end_matches('0').trim_end_matches('.');
            s = format!("{body}{tail}");
        }
    } else if !s.contains('.') {
        match s.find(['e', 'E']) {
            Some(i) => s.insert(i, '.'),
            None => s.push('.'),
        }
    }
    s
}

/// C's `%a` / `%.{prec}a` as glibc writes it.
pub(crate) fn fmt_a(x: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = non_finite(x, upper) {
        return s;
    }
    let bits = x.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let mut frac = bits & ((1u64 << 52) - 1);
    let (mut lead, exp) = if biased == 0 {
        if frac == 0 {
            (0u64, 0)
        } else {
            (0, -1022)
        }
    } else {
        (1, biased - 1023)
    };
    let mut digits = 13usize;
    if let Some(p) = prec {
        if p < 13 {
            let shift = (13 - p) * 4;
            let rem = frac & ((1u64 << shift) - 1);
            frac >>= shift;
            let half = 1u64 << (shift - 1);
            if rem > half || (rem == half && frac & 1 == 1) {
                frac += 1;
                if frac >> (p * 4) != 0 {
                    frac &= (1u64 << (p * 4)) - 1;
                    lead += 1;
                }
            }
            digits = p;
        }
    }
    let mut hex = if digits == 0 {
        String::new()
    } else {
        format!("{:0width$x}", frac, width = digits)
    };
    match prec {
        None => {
            while hex.ends_with('0') {
                hex.pop();
            }
        }
        Some(p) => {
            while hex.len() < p {
                hex.push('0');
            }
        }
    }
    let dot = if hex.is_empty() { "" } else { "." };
    let esign = if exp < 0 { '-' } else { '+' };
    let s = format!("{sign}0x{lead}{dot}{hex}p{esign}{}", exp.abs());
    if upper {
        s.to_ascii_uppercase()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tostring_floats() {
        assert_eq!(float_to_string(3.0), "3.0");
        assert_eq!(float_to_string(-0.0), "-0.0");
        assert_eq!(float_to_string(1e100), "1e+100");
        assert_eq!(float_to_string(1e15), "1e+15");
        assert_eq!(float_to_string(0.1), "0.1");
        assert_eq!(float_to_string(2f64.powi(63)), "9.2233720368548e+18");
        assert_eq!(float_to_string(1.0 / 3.0), "0.33333333333333");
        assert_eq!(float_to_string(f64::INFINITY), "inf");
        assert_eq!(float_to_string(1e-5), "1e-05");
    }

    #[test]
    fn printf_conversions() {
        assert_eq!(fmt_e(12345.678, 6, false), "1.234568e+04");
        assert_eq!(fmt_g(1e20, 6, false, false), "1e+20");
        assert_eq!(fmt_g(100000.0, 6, false, false), "100000");
        assert_eq!(fmt_g(1000000.0, 6, false, false), "1e+06");
        assert_eq!(fmt_g(0.0001, 6, false, false), "0.0001");
        assert_eq!(fmt_a(1.0, None, false), "0x1p+0");
        assert_eq!(fmt_a(1.0 / 3.0, None, false), "0x1.5555555555555p-2");
        assert_eq!(fmt_a(0.0, None, false), "0x0p+0");
        assert_eq!(fmt_a(1.5, Some(3), true), "0X1.800P+0");
    }

    #[test]
    fn numerals() {
        assert_eq!(parse(b" 10 "), Some(Num::Int(10)));
        assert_eq!(parse(b"0x10"), Some(Num::Int(16)));
        assert_eq!(parse(b"0xffffffffffffffff"), Some(Num::Int(-1)));
        assert_eq!(parse(b"1e2"), Some(Num::Float(100.0)));
        assert_eq!(parse(b"0x1p4"), Some(Num::Float(16.0)));
        assert_eq!(
            parse(b"9223372036854775808"),
            Some(Num::Float(9223372036854775808.0))
        );
        assert_eq!(parse(b"-9223372036854775808"), Some(Num::Int(i64::MIN)));
        assert_eq!(parse(b"inf"), None);
        assert_eq!(parse(b"1e"), None);
        assert_eq!(parse(b""), None);
    }
}
