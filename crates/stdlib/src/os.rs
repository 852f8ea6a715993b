//! The `os` functions that need no files or processes: `time`, `clock`, `date`,
//! `difftime`, `getenv`. Time comes from [`Platform`]; local time is UTC (the module has no
//! time-zone database).

use std::rc::Rc;

use piccolo::{Callback, CallbackReturn, Context, Error, Table, Value};

use crate::args::{Args, Name};
use crate::Platform;

const fn n(func: &'static str) -> Name {
    Name::new("os", func)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

struct Tm {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    wday: i64, // 0 = Sunday
    yday: i64, // 1-based
}

fn civil(t: i64) -> Tm {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
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

/// ISO 8601 week-based year and week number.
fn iso_week(tm: &Tm) -> (i64, i64) {
    let wday = (tm.wday + 6) % 7; // Monday = 0
    let yday = tm.yday - 1;
    let mut year = tm.year;
    let mut week = (yday - wday + 10) / 7;
    let weeks_in = |y: i64| {
        let jan1 = (days_from_civil(y, 1, 1) + 3).rem_euclid(7); // Monday = 0
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

fn strftime(fmt: &[u8], tm: &Tm, utc: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let mut conv = fmt.get(i).copied().unwrap_or(0);
        i += 1;
        if conv == b'E' || conv == b'O' {
            let next = fmt.get(i).copied().unwrap_or(0);
            let ok = if conv == b'E' {
                b"cCxXyY".contains(&next)
            } else {
                b"deHImMSuUVwWy".contains(&next)
            };
            if !ok {
                let spec =
                    String::from_utf8_lossy(&fmt[i - 2..(i + 1).min(fmt.len())]).into_owned();
                return Err(format!("invalid conversion specifier '{spec}'"));
            }
            conv = next;
            i += 1;
        }
        let h12 = if tm.hour % 12 == 0 { 12 } else { tm.hour % 12 };
        let text = match conv {
            b'a' => DAYS[tm.wday as usize][..3].to_string(),
            b'A' => DAYS[tm.wday as usize].to_string(),
            b'b' | b'h' => MONTHS[tm.month as usize - 1][..3].to_string(),
            b'B' => MONTHS[tm.month as usize - 1].to_string(),
            b'c' => format!(
                "{} {} {:2} {:02}:{:02}:{:02} {}",
                &DAYS[tm.wday as usize][..3],
                &MONTHS[tm.month as usize - 1][..3],
                tm.day,
                tm.hour,
                tm.min,
                tm.sec,
                tm.year
            ),
            b'C' => format!("{:02}", tm.year.div_euclid(100)),
            b'd' => format!("{:02}", tm.day),
            b'D' | b'x' => format!(
                "{:02}/{:02}/{:02}",
                tm.month,
                tm.day,
                tm.year.rem_euclid(100)
            ),
            b'e' => format!("{:2}", tm.day),
            b'F' => format!("{}-{:02}-{:02}", tm.year, tm.month, tm.day),
            b'g' => format!("{:02}", iso_week(tm).0.rem_euclid(100)),
            b'G' => iso_week(tm).0.to_string(),
            b'H' => format!("{:02}", tm.hour),
            b'I' => format!("{h12:02}"),
            b'j' => format!("{:03}", tm.yday),
            b'm' => format!("{:02}", tm.month),
            b'M' => format!("{:02}", tm.min),
            b'n' => "\n".into(),
            b'p' => if tm.hour < 12 { "AM" } else { "PM" }.into(),
            b'r' => format!(
                "{h12:02}:{:02}:{:02} {}",
                tm.min,
                tm.sec,
                if tm.hour < 12 { "AM" } else { "PM" }
            ),
            b'R' => format!("{:02}:{:02}", tm.hour, tm.min),
            b's' => (days_from_civil(tm.year, tm.month, tm.day) * 86400
                + tm.hour * 3600
                + tm.min * 60
                + tm.sec)
                .to_string(),
            b'S' => format!("{:02}", tm.sec),
            b't' => "\t".into(),
            b'T' | b'X' => format!("{:02}:{:02}:{:02}", tm.hour, tm.min, tm.sec),
            b'u' => (if tm.wday == 0 { 7 } else { tm.wday }).to_string(),
            b'U' => format!("{:02}", (tm.yday - 1 + 7 - tm.wday) / 7),
            b'V' => format!("{:02}", iso_week(tm).1),
            b'w' => tm.wday.to_string(),
            b'W' => format!("{:02}", (tm.yday - 1 + 7 - (tm.wday + 6) % 7) / 7),
            b'y' => format!("{:02}", tm.year.rem_euclid(100)),
            b'Y' => tm.year.to_string(),
            b'z' => "+0000".into(),
            b'Z' => if utc { "GMT" } else { "UTC" }.into(),
            b'%' => "%".into(),
            _ => {
                let end = i.min(fmt.len());
                let spec = String::from_utf8_lossy(&fmt[i - 2..end]).into_owned();
                return Err(format!("invalid conversion specifier '{spec}'"));
            }
        };
        out.extend_from_slice(text.as_bytes());
    }
    Ok(out)
}

fn field<'gc>(
    a: &Args<'gc, '_, '_>,
    t: Table<'gc>,
    key: &'static str,
    default: Option<i64>,
    delta: i64,
) -> Result<i64, Error<'gc>> {
    match t.get(a.ctx, key) {
        Value::Nil => {
            default.ok_or_else(|| a.error(format!("field '{key}' missing in date table")))
        }
        v => match crate::num::to_integer_strict(v) {
            Some(n) if matches!(v, Value::Integer(_) | Value::Number(_)) => {
                if !(i32::MIN as i64..=i32::MAX as i64).contains(&(n - delta)) {
                    return Err(a.error(format!("field '{key}' is out-of-bound")));
                }
                Ok(n)
            }
            _ => Err(a.error(format!("field '{key}' is not an integer"))),
        },
    }
}

pub(crate) fn load<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    let os = Table::new(&ctx);

    let p = platform.clone();
    let time = Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("time"));
        let t = match stack.get(0) {
            Value::Nil => (p.now_ms() / 1000.0).floor() as i64,
            Value::Table(t) => {
                let year = field(&a, t, "year", None, 1900)?;
                let month = field(&a, t, "month", None, 1)?;
                let day = field(&a, t, "day", None, 0)?;
                let hour = field(&a, t, "hour", Some(12), 0)?;
                let min = field(&a, t, "min", Some(0), 0)?;
                let sec = field(&a, t, "sec", Some(0), 0)?;
                let y = year + (month - 1).div_euclid(12);
                let m = (month - 1).rem_euclid(12) + 1;
                let secs = days_from_civil(y, m, 1) * 86400
                    + (day - 1) * 86400
                    + hour * 3600
                    + min * 60
                    + sec;
                // Like mktime, normalise the table's fields.
                let tm = civil(secs);
                for (k, v) in [
                    ("year", tm.year),
                    ("month", tm.month),
                    ("day", tm.day),
                    ("hour", tm.hour),
                    ("min", tm.min),
                    ("sec", tm.sec),
                    ("wday", tm.wday + 1),
                    ("yday", tm.yday),
                ] {
                    t.set(ctx, k, v).unwrap();
                }
                t.set(ctx, "isdst", false).unwrap();
                secs
            }
            _ => return Err(a.type_error(&stack, 0, "table")),
        };
        stack.replace(ctx, t);
        Ok(CallbackReturn::Return)
    });
    os.set(ctx, "time", time).unwrap();

    let p = platform.clone();
    let clock = Callback::from_fn(&ctx, move |ctx, _, mut stack| {
        stack.replace(ctx, p.clock_ms() / 1000.0);
        Ok(CallbackReturn::Return)
    });
    os.set(ctx, "clock", clock).unwrap();

    let date = Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("date"));
        let fmt = match stack.get(0) {
            Value::Nil => &b"%c"[..],
            _ => a.bytes(&stack, 0)?,
        };
        let t = match stack.get(1) {
            Value::Nil => (platform.now_ms() / 1000.0).floor() as i64,
            _ => a.integer(&stack, 1)?,
        };
        let (utc, fmt) = match fmt.strip_prefix(b"!") {
            Some(rest) => (true, rest),
            None => (false, fmt),
        };
        let tm = civil(t);
        if fmt.starts_with(b"*t") {
            let r = Table::new(&ctx);
            for (k, v) in [
                ("year", tm.year),
                ("month", tm.month),
                ("day", tm.day),
                ("hour", tm.hour),
                ("min", tm.min),
                ("sec", tm.sec),
                ("wday", tm.wday + 1),
                ("yday", tm.yday),
            ] {
                r.set(ctx, k, v).unwrap();
            }
            r.set(ctx, "isdst", false).unwrap();
            stack.replace(ctx, r);
        } else {
            let out = strftime(fmt, &tm, utc).map_err(|e| a.arg_error(1, e))?;
            stack.replace(ctx, ctx.intern(&out));
        }
        Ok(CallbackReturn::Return)
    });
    os.set(ctx, "date", date).unwrap();

    let difftime = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("difftime"));
        let t2 = a.integer(&stack, 0)?;
        let t1 = a.integer(&stack, 1)?;
        stack.replace(ctx, (t2 as f64) - (t1 as f64));
        Ok(CallbackReturn::Return)
    });
    os.set(ctx, "difftime", difftime).unwrap();

    let getenv = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        Args::new(ctx, &exec, n("getenv")).string(&stack, 0)?;
        stack.replace(ctx, Value::Nil);
        Ok(CallbackReturn::Return)
    });
    os.set(ctx, "getenv", getenv).unwrap();

    ctx.set_global("os", os).unwrap();
}
