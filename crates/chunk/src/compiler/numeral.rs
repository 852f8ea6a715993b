//! Numerals as the lexer reads them: decimal and hexadecimal integers and floats, with Lua 5.4's
//! rules (decimal integers that overflow become floats, hexadecimal integers wrap around, hex
//! floats with binary exponents, no `inf` or `nan`).

/// The value of a numeral.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Numeral {
    Int(i64),
    Float(f64),
}

/// Converts the text of a numeral; `None` when it is malformed.
pub(crate) fn parse_numeral(text: &[u8]) -> Option<Numeral> {
    if let Some(i) = parse_integer(text) {
        return Some(Numeral::Int(i));
    }
    // lua5.4 refuses 'inf' and 'nan' before asking the C library.
    if text.iter().any(|&c| c == b'n' || c == b'N') {
        return None;
    }
    let float = match text {
        [b'0', b'x' | b'X', rest @ ..] => parse_hex_float(rest)?,
        _ => crate::decimal::parse(text)?,
    };
    Some(Numeral::Float(float))
}

fn hex_digit_value(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// A decimal integer that fits in an `i64`, or a hexadecimal integer modulo 2^64.
fn parse_integer(text: &[u8]) -> Option<i64> {
    if let [b'0', b'x' | b'X', digits @ ..] = text {
        if digits.is_empty() {
            return None;
        }
        let mut value: u64 = 0;
        for &c in digits {
            value = value
                .wrapping_mul(16)
                .wrapping_add(u64::from(hex_digit_value(c)?));
        }
        return Some(value as i64);
    }
    if text.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    Some(value)
}

/// The part of a hexadecimal float after `0x`: `hexdigits [. hexdigits] [(p|P) [+|-] digits]`,
/// rounded to nearest-even as C's `strtod` does.
fn parse_hex_float(text: &[u8]) -> Option<f64> {
    // The first 16 significant hex digits are kept exactly; later ones only matter as a sticky
    // bit for rounding (and shift the exponent when they are before the point).
    let mut mantissa: u64 = 0;
    let mut significant = 0u32;
    let mut sticky = false;
    let mut exponent: i64 = 0;
    let mut any_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c == b'.' {
            if seen_point {
                return None;
            }
            seen_point = true;
        } else if let Some(d) = hex_digit_value(c) {
            any_digit = true;
            if significant < 16 {
                if mantissa != 0 || d != 0 {
                    mantissa = mantissa * 16 + u64::from(d);
                    significant += 1;
                }
                if seen_point {
                    exponent -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exponent += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if i < text.len() && (text[i] == b'p' || text[i] == b'P') {
        i += 1;
        let negative = match text.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut value: i64 = 0;
        while i < text.len() && text[i].is_ascii_digit() {
            // Saturate: any exponent this large already overflows or underflows.
            value = (value * 10 + i64::from(text[i] - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        exponent += if negative { -value } else { value };
    }
    if i != text.len() {
        return None;
    }
    Some(scale_binary(mantissa, sticky, exponent))
}

/// `(mantissa + sticky fraction) * 2^exponent` rounded to the nearest double, ties to even.
fn scale_binary(mantissa: u64, sticky: bool, exponent: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    // Normalise: value = m * 2^(e - 63) with bit 63 of m set, so the leading bit is 2^e.
    let shift = mantissa.leading_zeros();
    let m = mantissa << shift;
    let e = exponent + 63 - i64::from(shift);
    if e > 1023 {
        return f64::INFINITY;
    }
    // Bits a double keeps for this magnitude: 53, fewer for subnormals.
    let kept_bits = if e >= -1022 { 53 } else { e + 1075 };
    if kept_bits < 0 {
        return 0.0;
    }
    let dropped = 64 - kept_bits;
    let (kept, rest) = if dropped >= 64 {
        (0, m)
    } else {
        (m >> dropped, m << (64 - dropped))
    };
    let half = 1u64 << 63;
    let round_up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    compose(kept + u64::from(round_up), e - kept_bits + 1)
}

/// `kept * 2^unit_exponent` as a double; the product is representable or overflows.
fn compose(kept: u64, unit_exponent: i64) -> f64 {
    if kept == 0 {
        return 0.0;
    }
    let lead = 63 - i64::from(kept.leading_zeros());
    let top = lead + unit_exponent;
    if top > 1023 {
        f64::INFINITY
    } else if top >= -1022 {
        let aligned = if lead <= 52 {
            kept << (52 - lead)
        } else {
            kept >> (lead - 52)
        };
        let fraction = aligned & ((1u64 << 52) - 1);
        f64::from_bits(((top + 1023) as u64) << 52 | fraction)
    } else {
        // Subnormal: unit_exponent is -1074 here.
        f64::from_bits(kept)
    }
}
