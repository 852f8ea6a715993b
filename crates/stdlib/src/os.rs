//! The `os` library: time (`time`, `clock`, `date`, `difftime`) from the host's clock, with
//! local time being UTC (there is no time-zone database); `setlocale`, which knows the C
//! locale only; and what goes through the host's files, commands and environment
//! (`getenv`, `execute`, `remove`, `rename`, `tmpname`) or ends the run (`exit`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::lib::{at, to_number, Action, Error, NativeCall};
use vm::number::{float_to_int, int_digits, Number};
use vm::state::Ctx;
use vm::table::Table;
use vm::value::Value;

use super::register_lib;

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// Registers `os`.
pub fn open(ctx: Ctx<'_>) {
    register_lib(
        ctx,
        "os",
        &[
            ("clock", clock),
            ("date", date),
            ("difftime", difftime),
            ("execute", execute),
            ("exit", exit),
            ("getenv", getenv),
            ("remove", remove),
            ("rename", rename),
            ("setlocale", setlocale),
            ("time", time),
            ("tmpname", tmpname),
        ],
    );
}

fn clock<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let seconds = ctx.with_host(|h| h.clock());
    call.ret1(Value::from(seconds))
}

fn getenv<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name = call.check_bytes(ctx, 0)?;
    match ctx.with_host(|h| h.getenv(name)) {
        Some(value) => call.ret1(ctx.str_value(&value)),
        None => call.ret1(Value::Nil),
    }
}

fn execute<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let Some(command) = call.opt_string(ctx, 0)? else {
        let shell = ctx.with_host(|h| h.shell_available());
        return call.ret1(Value::from(shell));
    };
    let ended = ctx.with_host(|h| h.execute(command.as_bytes()));
    super::io::exec_result(ctx, call, ended)
}

fn remove<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let path = call.check_bytes(ctx, 0)?;
    let result = ctx.with_host(|h| h.remove(path));
    super::io::file_result(ctx, call, result, Some(path))
}

fn rename<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let from = call.check_bytes(ctx, 0)?;
    let to = call.check_bytes(ctx, 1)?;
    let result = ctx.with_host(|h| h.rename(from, to));
    super::io::file_result(ctx, call, result, None)
}

fn tmpname<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match ctx.with_host(|h| h.tmpname()) {
        Ok(name) => call.ret1(ctx.str_value(&name)),
        Err(_) => Err(Error::runtime("unable to generate a unique filename")),
    }
}

/// Ends the run with [`Step::Exit`](vm::Step::Exit): `true` is status 0, `false` 1.
fn exit<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let code = match call.arg(0) {
        Value::Boolean(ok) => i32::from(!ok),
        // C's `exit` takes an `int`: the low 32 bits.
        _ => call.opt_integer(ctx, 0, 0)? as i32,
    };
    let close = call.arg(1).is_truthy();
    ctx.request_exit(vm::ExitRequest { code, close });
    // The run never comes back: the continuation is only there because a yield has one.
    Ok(Action::Yield {
        at: 0,
        then: vm::lib::Cont::resumed_values(),
    })
}

fn setlocale<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    const CATEGORIES: &[&str] = &["all", "collate", "ctype", "monetary", "numeric", "time"];
    let name = call.opt_string(ctx, 0)?;
    call.check_option(ctx, 1, Some("all"), CATEGORIES)?;
    match name.map(|n| n.as_bytes()) {
        None | Some(b"" | b"C" | b"POSIX") => call.ret1(ctx.str_value(b"C")),
        Some(_) => call.ret1(Value::Nil),
    }
}

/// A time argument (`l_checktime`).
fn check_time<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    i: usize,
) -> Result<i64, Error<'gc>> {
    call.check_integer(ctx, i)
}

fn difftime<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t1 = check_time(ctx, call, 0)?;
    let t2 = check_time(ctx, call, 1)?;
    call.ret1(Value::from(t1 as f64 - t2 as f64))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (`month` 1..=12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March is 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A broken-down UTC time, as C's `struct tm` has it (but with the full year and month
/// 1..=12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tm {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    /// 0 is Sunday.
    wday: i64,
    /// 1 is January 1st.
    yday: i64,
}

impl Tm {
    fn from_time(t: i64) -> Tm {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Tm {
            year,
            month,
            day,
            hour: secs / 3600,
            min: secs % 3600 / 60,
            sec: secs % 60,
            wday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1) + 1,
        }
    }

    /// The fields `os.date("*t")` returns and `os.time` normalises.
    fn fields(&self) -> [(&'static [u8], i64); 8] {
        [
            (b"year", self.year),
            (b"month", self.month),
            (b"day", self.day),
            (b"hour", self.hour),
            (b"min", self.min),
            (b"sec", self.sec),
            (b"wday", self.wday + 1),
            (b"yday", self.yday),
        ]
    }

    fn set_fields<'gc>(&self, ctx: Ctx<'gc>, t: Table<'gc>) {
        for (k, v) in self.fields() {
            t.set_str(ctx.mc, ctx.intern(k), Value::Integer(v));
        }
        t.set_str(ctx.mc, ctx.intern(b"isdst"), Value::Boolean(false));
    }

    /// ISO 8601 week-based year and week number.
    fn iso_week(&self) -> (i64, i64) {
        let weekday = (self.wday + 6) % 7; // Monday is 0
        let mut year = self.year;
        let mut week = (self.yday - 1 - weekday + 10) / 7;
        let weeks_in = |y: i64| {
            let jan1 = (days_from_civil(y, 1, 1) + 3).rem_euclid(7); // Monday is 0
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            if jan1 == 3 || (jan1 == 2 && leap) {
                53
            } else {
                52
            }
        };
        if week < 1 {
            year -= 1;
            week = weeks_in(year);
        } else if week > weeks_in(year) {
            year += 1;
            week = 1;
        }
        (year, week)
    }
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The conversions `os.date` accepts (C99's), one-letter ones and `E`/`O` modified ones.
const CONVERSIONS: &[u8] = b"aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%";
const E_CONVERSIONS: &[u8] = b"cCxXyY";
const O_CONVERSIONS: &[u8] = b"deHImMSuUVwWy";

/// `strftime` in the C locale. `Err` holds the rest of the format from a bad conversion on.
fn strftime(fmt: &[u8], tm: &Tm, utc: bool) -> Result<Vec<u8>, Vec<u8>> {
    let mut out = Vec::new();
    put_format(&mut out, fmt, tm, utc)?;
    Ok(out)
}

fn put_format(out: &mut Vec<u8>, fmt: &[u8], tm: &Tm, utc: bool) -> Result<(), Vec<u8>> {
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let conv = match (fmt.get(i).copied(), fmt.get(i + 1).copied()) {
            (Some(b'E'), Some(next)) if E_CONVERSIONS.contains(&next) => {
                i += 2;
                next
            }
            (Some(b'O'), Some(next)) if O_CONVERSIONS.contains(&next) => {
                i += 2;
                next
            }
            (Some(c), _) if CONVERSIONS.contains(&c) => {
                i += 1;
                c
            }
            _ => return Err(at(fmt, i..).to_vec()),
        };
        put_conversion(out, conv, tm, utc)?;
    }
    Ok(())
}

/// One conversion of [`CONVERSIONS`]. The composite ones are spelled with the others, as
/// C defines them; numbers go through one padded writer rather than `core::fmt`.
fn put_conversion(out: &mut Vec<u8>, conv: u8, tm: &Tm, utc: bool) -> Result<(), Vec<u8>> {
    let day_name = at(&DAYS, tm.wday as usize).as_bytes();
    let month_name = at(&MONTHS, tm.month as usize - 1).as_bytes();
    let hour12 = if tm.hour % 12 == 0 { 12 } else { tm.hour % 12 };
    let text: &[u8] = match conv {
        b'a' => &day_name[..3],
        b'A' => day_name,
        b'b' | b'h' => &month_name[..3],
        b'B' => month_name,
        b'n' => b"\n",
        b'p' if tm.hour < 12 => b"AM",
        b'p' => b"PM",
        b't' => b"\t",
        b'z' => b"+0000",
        b'Z' if utc => b"GMT",
        b'Z' => b"UTC",
        b'%' => b"%",
        b'c' => return put_format(out, b"%a %b %e %H:%M:%S %Y", tm, utc),
        b'D' | b'x' => return put_format(out, b"%m/%d/%y", tm, utc),
        b'F' => return put_format(out, b"%Y-%m-%d", tm, utc),
        b'r' => return put_format(out, b"%I:%M:%S %p", tm, utc),
        b'R' => return put_format(out, b"%H:%M", tm, utc),
        b'T' | b'X' => return put_format(out, b"%H:%M:%S", tm, utc),
        _ => {
            let (n, width, pad) = match conv {
                b'C' => (tm.year.div_euclid(100), 2, b'0'),
                b'd' => (tm.day, 2, b'0'),
                b'e' => (tm.day, 2, b' '),
                b'g' => (tm.iso_week().0.rem_euclid(100), 2, b'0'),
                b'G' => (tm.iso_week().0, 0, b'0'),
                b'H' => (tm.hour, 2, b'0'),
                b'I' => (hour12, 2, b'0'),
                b'j' => (tm.yday, 3, b'0'),
                b'm' => (tm.month, 2, b'0'),
                b'M' => (tm.min, 2, b'0'),
                b'S' => (tm.sec, 2, b'0'),
                b'u' => (if tm.wday == 0 { 7 } else { tm.wday }, 0, b'0'),
                b'U' => ((tm.yday - 1 + 7 - tm.wday) / 7, 2, b'0'),
                b'V' => (tm.iso_week().1, 2, b'0'),
                b'w' => (tm.wday, 0, b'0'),
                b'W' => ((tm.yday - 1 + 7 - (tm.wday + 6) % 7) / 7, 2, b'0'),
                b'y' => (tm.year.rem_euclid(100), 2, b'0'),
                _ => (tm.year, 0, b'0'), // %Y
            };
            put_padded(out, n, width, pad);
            return Ok(());
        }
    };
    out.extend_from_slice(text);
    Ok(())
}

/// `n` in decimal, at least `width` wide: zeros go after a sign, spaces before it.
fn put_padded(out: &mut Vec<u8>, n: i64, width: usize, pad: u8) {
    let mut buf = [0u8; 20];
    let digits = int_digits(n, &mut buf);
    let (sign, digits) = digits.split_at(usize::from(n < 0 && pad == b'0'));
    out.extend_from_slice(sign);
    for _ in sign.len() + digits.len()..width {
        out.push(pad);
    }
    out.extend_from_slice(digits);
}

/// Years a `struct tm` can hold (its year field is an `int` counted from 1900).
fn representable(year: i64) -> bool {
    (i32::MIN as i64..=i32::MAX as i64).contains(&(year - 1900))
}

fn date<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let fmt: Vec<u8> = match call.opt_string(ctx, 0)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b"%c".to_vec(),
    };
    let t = match call.arg(1) {
        Value::Nil => ctx.with_host(|h| h.time()),
        _ => check_time(ctx, call, 1)?,
    };
    let (utc, fmt) = match fmt.strip_prefix(b"!") {
        Some(rest) => (true, rest),
        None => (false, &fmt[..]),
    };
    let tm = Tm::from_time(t);
    if !representable(tm.year) {
        return Err(Error::runtime(
            "date result cannot be represented in this installation",
        ));
    }
    // Compared as C strings: the format ends at a zero byte.
    let c_fmt = &fmt[..fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len())];
    if c_fmt == b"*t" {
        let result = ctx.new_table();
        tm.set_fields(ctx, result);
        return call.ret1(Value::from(result));
    }
    match strftime(fmt, &tm, utc) {
        Ok(out) => call.ret1(ctx.str_value(&out)),
        Err(rest) => Err(Error::bad_arg(
            1,
            format!(
                "invalid conversion specifier '%{}'",
                String::from_utf8_lossy(&rest)
            ),
        )),
    }
}

/// A field of a date table (`getfield`), minus `delta`, within `int`.
fn date_field<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: &str,
    default: Option<i64>,
    delta: i64,
) -> Result<i64, Error<'gc>> {
    let v = t.get_str(ctx.intern(key.as_bytes()));
    let n = match to_number(v) {
        Some(Number::Int(n)) => Some(n),
        Some(Number::Float(f)) => float_to_int(f),
        None => None,
    };
    let Some(n) = n else {
        return match (v, default) {
            (Value::Nil, Some(d)) => Ok(d),
            (Value::Nil, None) => Err(Error::runtime(format!(
                "field '{key}' missing in date table"
            ))),
            _ => Err(Error::runtime(format!("field '{key}' is not an integer"))),
        };
    };
    let fits = if n >= 0 {
        n - delta <= i32::MAX as i64
    } else {
        i32::MIN as i64 + delta <= n
    };
    if !fits {
        return Err(Error::runtime(format!("field '{key}' is out-of-bound")));
    }
    Ok(n - delta)
}

fn time<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t = match call.arg(0) {
        Value::Nil => return call.ret1(Value::from(ctx.with_host(|h| h.time()))),
        Value::Table(t) => t,
        _ => return Err(call.type_err(ctx, 0, "table")),
    };
    let year = date_field(ctx, t, "year", None, 1900)? + 1900;
    let month = date_field(ctx, t, "month", None, 1)?;
    let day = date_field(ctx, t, "day", None, 0)?;
    let hour = date_field(ctx, t, "hour", Some(12), 0)?;
    let min = date_field(ctx, t, "min", Some(0), 0)?;
    let sec = date_field(ctx, t, "sec", Some(0), 0)?;
    // Like mktime, out-of-range fields carry over (month 13 is January next year).
    let secs = days_from_civil(year + month.div_euclid(12), month.rem_euclid(12) + 1, 1) * 86_400
        + (day - 1) * 86_400
        + hour * 3600
        + min * 60
        + sec;
    let tm = Tm::from_time(secs);
    // mktime's error value is -1, so that second cannot be told from a failure.
    if secs == -1 || !representable(tm.year) {
        return Err(Error::runtime(
            "time result cannot be represented in this installation",
        ));
    }
    tm.set_fields(ctx, t);
    call.ret1(Value::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, t: i64) -> String {
        String::from_utf8(strftime(f.as_bytes(), &Tm::from_time(t), true).unwrap()).unwrap()
    }

    #[test]
    fn dates_as_glibc_formats_them_in_utc() {
        assert_eq!(fmt("%c", 0), "Thu Jan  1 00:00:00 1970");
        let t = 86_400 * 400 + 3600 * 15;
        assert_eq!(
            fmt("%x %X %D %F %r %R %T %e|%j|%U|%W|%V|%G|%g|%u|%w|%C|%y|%p|%I|%h|%%", t),
            "02/05/71 15:00:00 02/05/71 1971-02-05 03:00:00 PM 15:00 15:00:00  5|036|05|05|05|1971|71|5|5|19|71|PM|03|Feb|%"
        );
        assert_eq!(fmt("%Y", -(1i64 << 40)), "-32873");
        assert_eq!(fmt("%Ey %Od", 0), "70 01");
    }

    #[test]
    fn bad_conversions_report_the_rest_of_the_format() {
        let tm = Tm::from_time(0);
        assert_eq!(strftime(b"%Q abc", &tm, false), Err(b"Q abc".to_vec()));
        assert_eq!(strftime(b"%Ez", &tm, false), Err(b"Ez".to_vec()));
        assert_eq!(strftime(b"%", &tm, false), Err(b"".to_vec()));
        assert_eq!(strftime(b"%s", &tm, false), Err(b"s".to_vec()));
    }

    #[test]
    fn broken_down_times() {
        let tm = Tm::from_time(1_000_000_000);
        assert_eq!(
            tm,
            Tm {
                year: 2001,
                month: 9,
                day: 9,
                hour: 1,
                min: 46,
                sec: 40,
                wday: 0,
                yday: 252
            }
        );
        assert_eq!(days_from_civil(2000, 1, 1) * 86_400, 946_684_800);
    }
}
