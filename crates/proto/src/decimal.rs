//! Floats to decimal and back, exactly, with small big integers instead of `core`'s
//! formatting and parsing (whose code and tables cost the wasm module about 30 KB).
//!
//! Every finite double is a whole number times a power of two, so its decimal expansion is
//! finite: [`Digits`] computes all of it and rounds once, ties to even, as glibc's `printf`
//! (and so lua5.4) does. [`parse`] divides exactly and rounds to the nearest double, as
//! `strtod` does.

use alloc::vec;
use alloc::vec::Vec;

/// Base of the big integer's limbs: nine decimal digits each.
const LIMB: u64 = 1_000_000_000;

/// The digits of finite `|f|`, rounded: see [`Digits::round`].
pub struct Digits {
    /// ASCII digits, the first non-zero unless the value is zero.
    digits: Vec<u8>,
    /// The power of ten of the first digit.
    exp: i32,
}

impl Digits {
    /// The exact decimal expansion of finite `|f|`.
    pub fn exact(f: f64) -> Self {
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        let (mut mantissa, mut exp2) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        if mantissa == 0 {
            return Digits {
                digits: vec![b'0'],
                exp: 0,
            };
        }
        let zeros = mantissa.trailing_zeros();
        mantissa >>= zeros;
        exp2 += zeros as i32;
        // |f| = n * 2^exp2 = n * 5^-exp2 * 10^exp2 when exp2 < 0.
        let mut n = vec![(mantissa % LIMB) as u32, (mantissa / LIMB) as u32];
        let exp10 = if exp2 >= 0 {
            multiply_by_power(&mut n, 2, 31, exp2 as u32);
            0
        } else {
            multiply_by_power(&mut n, 5, 13, exp2.unsigned_abs());
            exp2
        };
        let mut digits = Vec::with_capacity(n.len() * 9);
        for (i, limb) in n.iter().rev().enumerate() {
            let mut buf = [0u8; 9];
            let mut v = *limb;
            for d in buf.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            if i == 0 {
                let first = buf.iter().position(|&d| d != b'0').unwrap_or(8);
                digits.extend_from_slice(&buf[first..]);
            } else {
                digits.extend_from_slice(&buf);
            }
        }
        let exp = digits.len() as i32 - 1 + exp10;
        Digits { digits, exp }
    }

    /// `|f|` rounded to `n` significant digits (at least one): the digits and the power of
    /// ten of the first, as `%e` needs them.
    pub fn significant(f: f64, n: usize) -> (Vec<u8>, i32) {
        let mut d = Self::exact(f);
        d.round(n.max(1) as i64);
        (d.digits, d.exp)
    }

    /// `|f|` rounded to `decimals` digits after the point, written out as `%f` does.
    pub fn fixed(f: f64, decimals: usize, out: &mut Vec<u8>) {
        let mut d = Self::exact(f);
        d.round(d.exp as i64 + 1 + decimals as i64);
        let digit_at = |power: i32| {
            usize::try_from(d.exp - power)
                .ok()
                .and_then(|i| d.digits.get(i).copied())
                .unwrap_or(b'0')
        };
        for power in (0..=d.exp.max(0)).rev() {
            out.push(digit_at(power));
        }
        if decimals > 0 {
            out.push(b'.');
            out.extend((1..=decimals as i32).map(|k| digit_at(-k)));
        }
    }

    /// Keeps the first `kept` digits (padding with zeros), rounding the rest away to the
    /// nearest, ties to even. `kept <= 0` leaves zero or, rounded up, one unit of the last
    /// place kept (`10^(exp - kept + 1)`), whose first digit is then that place's.
    fn round(&mut self, kept: i64) {
        let len = self.digits.len() as i64;
        if kept >= len {
            self.digits.resize(kept as usize, b'0');
            return;
        }
        let up = if kept < 0 {
            false
        } else {
            let k = kept as usize;
            let rest = &self.digits[k..];
            let tail_nonzero = rest[1..].iter().any(|&d| d != b'0');
            let last_odd = k > 0 && self.digits[k - 1] & 1 == 1;
            rest[0] > b'5' || (rest[0] == b'5' && (tail_nonzero || last_odd))
        };
        let place = self.exp as i64 - kept + 1;
        if kept <= 0 {
            // Nothing of the value survives but, perhaps, one unit of the place kept.
            if up {
                self.digits = vec![b'1'];
                self.exp = place as i32;
            } else {
                self.digits = vec![b'0'];
                self.exp = 0;
            }
            return;
        }
        self.digits.truncate(kept as usize);
        if up {
            match self.digits.iter().rposition(|&d| d != b'9') {
                Some(i) => {
                    self.digits[i] += 1;
                    self.digits[i + 1..].fill(b'0');
                }
                None => {
                    // 99..9 rounds to 100..0: one more digit in front, as many kept.
                    self.digits.fill(b'0');
                    self.digits[0] = b'1';
                    self.exp += 1;
                }
            }
        }
    }
}

/// `n *= base^power`, in steps of `base^step` (which must fit in a `u32`).
fn multiply_by_power(n: &mut Vec<u32>, base: u32, step: u32, mut power: u32) {
    while power > 0 {
        let k = power.min(step);
        power -= k;
        let factor = base.pow(k) as u64;
        let mut carry = 0u64;
        for limb in n.iter_mut() {
            let x = *limb as u64 * factor + carry;
            *limb = (x % LIMB) as u32;
            carry = x / LIMB;
        }
        while carry > 0 {
            n.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }
    while n.len() > 1 && n.last() == Some(&0) {
        n.pop();
    }
}

/// Significant digits a numeral keeps; later ones only matter as a sticky non-zero digit
/// (a halfway point between two doubles has at most 767 significant digits).
const MAX_DIGITS: usize = 800;

/// A decimal numeral, `digits [. digits] [(e|E) [+|-] digits]` with at least one digit
/// before the exponent, as the nearest double (ties to even), as C's `strtod` reads it.
pub fn parse(text: &[u8]) -> Option<f64> {
    let mut digits = [0u8; MAX_DIGITS + 1];
    let mut count = 0;
    // The value is `digits * 10^exp10`.
    let mut exp10: i64 = 0;
    let mut sticky = false;
    let mut any_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if c.is_ascii_digit() {
            any_digit = true;
            let d = c - b'0';
            if count < MAX_DIGITS && (d != 0 || count > 0) {
                digits[count] = d;
                count += 1;
                exp10 -= i64::from(seen_point);
            } else if count == 0 {
                exp10 -= i64::from(seen_point);
            } else {
                sticky |= d != 0;
                exp10 += i64::from(!seen_point);
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if let Some(b'e' | b'E') = text.get(i) {
        i += 1;
        let negative = text.get(i) == Some(&b'-');
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        let mut e: i64 = 0;
        while let Some(c) = text.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(1 << 20);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if negative { -e } else { e };
    }
    if i != text.len() {
        return None;
    }
    if sticky {
        digits[count] = 1;
        count += 1;
        exp10 -= 1;
    }
    let digits = &digits[..count];
    let n = count as i64;
    if n == 0 || n + exp10 <= -325 {
        return Some(0.0);
    }
    if n - 1 + exp10 >= 310 {
        return Some(f64::INFINITY);
    }
    if n <= 15 && exp10.abs() <= 22 {
        // Both exact as doubles, so one correctly rounded operation (Clinger's fast path).
        let d = digits.iter().fold(0u64, |v, &d| v * 10 + u64::from(d)) as f64;
        let scale = (0..exp10.abs()).fold(1.0, |p, _| p * 10.0);
        return Some(if exp10 < 0 { d / scale } else { d * scale });
    }
    let mut n = Big(Vec::new());
    for chunk in digits.chunks(9) {
        let value = chunk.iter().fold(0, |v, &d| v * 10 + u32::from(d));
        n.mul_add(10u32.pow(chunk.len() as u32), value);
    }
    let mut scale = Big(vec![1]);
    for _ in 0..exp10.unsigned_abs() / 9 {
        scale.mul_add(1_000_000_000, 0);
    }
    scale.mul_add(10u32.pow((exp10.unsigned_abs() % 9) as u32), 0);
    if exp10 >= 0 {
        n.mul(&scale);
        scale = Big(vec![1]);
    }
    // n / scale, as a quotient of 66 or 67 bits times a power of two and a sticky bit.
    let shift = scale.bits() as i64 - n.bits() as i64 + 66;
    if shift >= 0 {
        n.shl(shift as u32);
    } else {
        scale.shl(shift.unsigned_abs() as u32);
    }
    scale.shl(67);
    let mut quotient: u128 = 0;
    for bit in (0..=67).rev() {
        if n.at_least(&scale) {
            n.sub(&scale);
            quotient |= 1 << bit;
        }
        scale.shr1();
    }
    Some(round_to_double(quotient, -shift, !n.is_zero()))
}

/// `q * 2^exp2`, plus a little when `sticky`, rounded to the nearest double, ties to even.
/// `q` has at least 54 bits.
fn round_to_double(q: u128, exp2: i64, sticky: bool) -> f64 {
    let len = 128 - i64::from(q.leading_zeros());
    let top = len - 1 + exp2;
    // Below 2^-1022 the precision shrinks with the exponent.
    let precision = 53 - (-1022 - top).max(0);
    if precision < 0 {
        return 0.0;
    }
    let drop = (len - precision) as u32;
    // `q` has at most 67 bits, so 13 <= drop <= 67.
    let kept = q >> drop;
    let rest = q & ((1 << drop) - 1);
    let half = 1 << (drop - 1);
    let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    libm::ldexp(
        (kept + u128::from(up)) as f64,
        (exp2 + i64::from(drop)) as i32,
    )
}

/// A natural number in binary, 32-bit limbs, least significant first.
struct Big(Vec<u32>);

impl Big {
    /// `self = self * factor + add`.
    fn mul_add(&mut self, factor: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in self.0.iter_mut() {
            let x = u64::from(*limb) * u64::from(factor) + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul(&mut self, other: &Big) {
        let mut product = vec![0u32; self.0.len() + other.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.0.iter().enumerate() {
                let x = u64::from(a) * u64::from(b) + u64::from(product[i + j]) + carry;
                product[i + j] = x as u32;
                carry = x >> 32;
            }
            product[i + other.0.len()] = carry as u32;
        }
        self.0 = product;
        self.trim();
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn bits(&self) -> u32 {
        self.0
            .last()
            .map_or(0, |top| self.0.len() as u32 * 32 - top.leading_zeros())
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&l| l == 0)
    }

    fn shl(&mut self, bits: u32) {
        let (limbs, bits) = ((bits / 32) as usize, bits % 32);
        if bits > 0 {
            let mut carry = 0;
            for limb in self.0.iter_mut() {
                let x = *limb;
                *limb = x << bits | carry;
                carry = x >> (32 - bits);
            }
            self.0.push(carry);
        }
        self.0.splice(0..0, core::iter::repeat_n(0, limbs));
        self.trim();
    }

    fn shr1(&mut self) {
        let mut carry = 0;
        for limb in self.0.iter_mut().rev() {
            let x = *limb;
            *limb = x >> 1 | carry;
            carry = x << 31;
        }
        self.trim();
    }

    fn at_least(&self, other: &Big) -> bool {
        if self.0.len() != other.0.len() {
            return self.0.len() > other.0.len();
        }
        self.0.iter().rev().cmp(other.0.iter().rev()) != core::cmp::Ordering::Less
    }

    /// `self -= other`, which is at most `self`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let b = other.0.get(i).copied().unwrap_or(0);
            let (x, o1) = limb.overflowing_sub(b);
            let (x, o2) = x.overflowing_sub(u32::from(borrow));
            *limb = x;
            borrow = o1 || o2;
        }
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

    fn fixed(f: f64, decimals: usize) -> String {
        let mut out = Vec::new();
        Digits::fixed(f, decimals, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn significant(f: f64, n: usize) -> (String, i32) {
        let (digits, exp) = Digits::significant(f, n);
        (String::from_utf8(digits).unwrap(), exp)
    }

    #[test]
    fn ties_round_to_even() {
        assert_eq!(fixed(0.5, 0), "0");
        assert_eq!(fixed(1.5, 0), "2");
        assert_eq!(fixed(2.5, 0), "2");
        assert_eq!(fixed(0.125, 2), "0.12");
        assert_eq!(fixed(0.375, 2), "0.38");
        assert_eq!(significant(2.5, 1), ("2".into(), 0));
        assert_eq!(significant(35.0, 1), ("4".into(), 1));
    }

    #[test]
    fn the_exact_value_decides() {
        // 0.0005 is a little above, 9.995 a little below what it reads as.
        assert_eq!(fixed(0.0005, 3), "0.001");
        assert_eq!(fixed(9.995, 2), "9.99");
        assert_eq!(fixed(0.1, 20), "0.10000000000000000555");
        assert_eq!(significant(1e23, 17), ("99999999999999992".into(), 22));
        assert_eq!(significant(0.1 + 0.2, 17), ("30000000000000004".into(), -1));
    }

    #[test]
    fn carries_add_a_digit() {
        assert_eq!(fixed(99.5, 0), "100");
        assert_eq!(fixed(0.96, 1), "1.0");
        assert_eq!(fixed(0.0096, 2), "0.01");
        assert_eq!(significant(9.96, 2), ("10".into(), 1));
    }

    #[test]
    fn zeros_and_extremes() {
        assert_eq!(fixed(0.0, 0), "0");
        assert_eq!(fixed(0.0, 3), "0.000");
        assert_eq!(fixed(0.0004, 3), "0.000");
        assert_eq!(significant(0.0, 3), ("000".into(), 0));
        assert_eq!(fixed(2f64.powi(53) + 2.0, 1), "9007199254740994.0");
        assert_eq!(fixed(1e22, 0), "10000000000000000000000");
        let max = fixed(f64::MAX, 0);
        assert_eq!(max.len(), 309);
        assert!(max.starts_with("17976931348623157081"));
        let tiny = fixed(f64::from_bits(1), 99);
        assert_eq!(tiny, format!("0.{}", "0".repeat(99)));
        assert_eq!(
            significant(f64::from_bits(1), 17),
            ("49406564584124654".into(), -324)
        );
        assert_eq!(
            significant(f64::MIN_POSITIVE, 17),
            ("22250738585072014".into(), -308)
        );
    }

    #[test]
    fn numerals_read_as_strtod_reads_them() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut texts: Vec<String> = [
            "0", "0.0", "1", "1.5", "0.1", "1e23", "8.98846567431158e307", "1.7976931348623157e308",
            "1.7976931348623158e308", "1.7976931348623159e308", "2.2250738585072011e-308",
            "2.2250738585072012e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
            "2.4703282292062328e-324", "1e-400", "1e400", "9007199254740993", "9007199254740992.5",
            "123456789012345678901234567890", ".5", "5.", "00001.000", "1e+0", "1E-0",
            "0.000000000000000000000000000000000000000000001",
            "2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189e-324",
        ]
        .iter()
        .map(|s| String::from(*s))
        .collect();
        for _ in 0..20000 {
            let bits = next();
            let f = f64::from_bits(bits & !(1 << 63));
            if f.is_finite() {
                texts.push(format!("{f:e}"));
                texts.push(format!("{:.*e}", (next() % 30) as usize, f));
                texts.push(format!("{f}"));
            }
            let digits = (next() % 40 + 1) as usize;
            let mantissa: String = (0..digits)
                .map(|_| (b'0' + (next() % 10) as u8) as char)
                .collect();
            let sign = if next() % 2 == 0 { "-" } else { "" };
            texts.push(format!("{mantissa}e{sign}{}", next() % 700));
        }
        for text in &texts {
            let expected: f64 = text.parse().unwrap();
            assert_eq!(
                parse(text.as_bytes()).map(f64::to_bits),
                Some(expected.to_bits()),
                "{text}"
            );
        }
        // Halfway between two doubles: ties to even, unless a digit a thousand places on says
        // the value is above.
        assert_eq!(parse(b"9007199254740993"), Some(9007199254740992.0));
        let above = format!("9007199254740993.{}1", "0".repeat(1000));
        assert_eq!(parse(above.as_bytes()), Some(9007199254740994.0));
        for bad in ["", ".", "e5", "1e", "1e+", "1.2.3", "1x", "--1", "+1", " 1"] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }
}
