//! `table.sort`: lua5.4's quicksort (median of three, the same pivots and the same
//! sequence of reads, writes and comparisons), so results with ties, with inconsistent
//! order functions and with metamethods are the reference's.
//!
//! It is a resumable state machine: a comparison by a Lua function or `__lt`, and element
//! access through `__index`/`__newindex`, suspend it; the ranges still to sort are kept in
//! argument slots (the reference recurses on the smaller part, which bounds them to about
//! 64), and the rest of its state is saved to slots when it suspends. A long sort also
//! pauses now and then to give the interpreter its turn.

use vm::lib::{
    compare_error, metamethod, primitive_order, Action, Error, MetaEvent, NativeCall, Outcome,
};
use vm::state::Ctx;
use vm::value::Value;

use super::{check_table, int, then, LENGTH, R, READ, WRITE};
use crate::access::{self, result_of, to_length, Flow};

/// Partition steps between two turns of the interpreter (each, with its reads and
/// comparison, charged as four instructions): a long sort pauses, so limits hold inside it.
const SORT_TURN: u32 = 512;

/// Ranges shorter than this always take the middle element as pivot (`RANLIMIT`).
const RANDOM_PIVOT_LIMIT: u32 = 100;

mod slot {
    pub const TABLE: usize = 0;
    pub const ORDER: usize = 1;
    pub const LO: usize = 2;
    pub const UP: usize = 3;
    pub const PIVOT_AT: usize = 4;
    pub const I: usize = 5;
    pub const J: usize = 6;
    pub const RANDOM: usize = 7;
    pub const PIVOT: usize = 8;
    pub const A: usize = 9;
    pub const B: usize = 10;
    /// How many ranges wait in the slots after this one, three slots each (lo, up, random).
    pub const PENDING: usize = 11;
    pub const RANGES: usize = 12;
}

/// Steps, each named after the result it receives (or the point it resumes at).
mod step {
    pub const LENGTH: i64 = 0;
    pub const RANGE: i64 = 1;
    pub const GOT_LO: i64 = 2;
    pub const GOT_UP: i64 = 3;
    pub const UP_LESS_LO: i64 = 4;
    pub const SWAPPED_ENDS_1: i64 = 5;
    pub const ENDS_SORTED: i64 = 6;
    pub const GOT_MID: i64 = 7;
    pub const GOT_LO_AGAIN: i64 = 8;
    pub const MID_LESS_LO: i64 = 9;
    pub const SWAPPED_MID_LO_1: i64 = 10;
    pub const GOT_UP_AGAIN: i64 = 11;
    pub const UP_LESS_MID: i64 = 12;
    pub const SWAPPED_MID_UP_1: i64 = 13;
    pub const MEDIAN_SORTED: i64 = 14;
    pub const GOT_PIVOT: i64 = 15;
    pub const GOT_UP_1: i64 = 16;
    pub const PIVOT_MOVED_1: i64 = 17;
    pub const PARTITION: i64 = 18;
    pub const NEXT_I: i64 = 19;
    pub const GOT_I: i64 = 20;
    pub const I_LESS_PIVOT: i64 = 21;
    pub const NEXT_J: i64 = 22;
    pub const GOT_J: i64 = 23;
    pub const PIVOT_LESS_J: i64 = 24;
    pub const SWAPPED_IJ_1: i64 = 25;
    pub const PIVOT_PLACED_1: i64 = 26;
    pub const PARTITIONED: i64 = 27;
    pub const RANGE_DONE: i64 = 28;
}

/// `table.sort(t [, comp])`.
pub fn sort<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    check_table(ctx, call, 0, READ | WRITE | LENGTH)?;
    call.set_nargs(slot::RANGES);
    let t = call.arg(slot::TABLE);
    let v = match access::length(ctx, call, t, then(sort_cont, step::LENGTH))? {
        Flow::Ready(v) => v,
        Flow::Wait(action) => return Ok(action),
    };
    Sort::load(call).run(ctx, call, step::LENGTH, v)
}

fn sort_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    let v = result_of(call, o);
    let at = call.state();
    Sort::load(call).run(ctx, call, at, v)
}

/// The sort's working state, in locals while it runs and in slots while it waits.
struct Sort<'gc> {
    /// The table and the order function (kept in their slots too).
    table: Value<'gc>,
    order: Value<'gc>,
    lo: i64,
    up: i64,
    p: i64,
    i: i64,
    j: i64,
    random: u32,
    pivot: Value<'gc>,
    a: Value<'gc>,
    b: Value<'gc>,
    /// What the sort returns when an access or comparison cannot complete at once: the call
    /// it waits for, or an error. Kept here so that each step only tests for it.
    stop: R<'gc>,
}

impl<'gc> Sort<'gc> {
    fn load(call: &NativeCall<'_, 'gc>) -> Self {
        let int_or_zero = |s| match call.arg(s) {
            Value::Integer(n) => n,
            _ => 0,
        };
        Sort {
            table: call.arg(slot::TABLE),
            order: call.arg(slot::ORDER),
            lo: int_or_zero(slot::LO),
            up: int_or_zero(slot::UP),
            p: int_or_zero(slot::PIVOT_AT),
            i: int_or_zero(slot::I),
            j: int_or_zero(slot::J),
            random: int_or_zero(slot::RANDOM) as u32,
            pivot: call.arg(slot::PIVOT),
            a: call.arg(slot::A),
            b: call.arg(slot::B),
            stop: Ok(Action::Return),
        }
    }

    /// Cold (only when the sort waits or pauses), and reached from every step of [`Sort::run`].
    #[inline(never)]
    fn save(&self, call: &mut NativeCall<'_, 'gc>) {
        call.set_arg(slot::LO, Value::Integer(self.lo));
        call.set_arg(slot::UP, Value::Integer(self.up));
        call.set_arg(slot::PIVOT_AT, Value::Integer(self.p));
        call.set_arg(slot::I, Value::Integer(self.i));
        call.set_arg(slot::J, Value::Integer(self.j));
        call.set_arg(slot::RANDOM, Value::Integer(self.random as i64));
        call.set_arg(slot::PIVOT, self.pivot);
        call.set_arg(slot::A, self.a);
        call.set_arg(slot::B, self.b);
    }

    /// `t[i]` when it needs no metamethod.
    #[inline]
    fn fast_get(&self, i: i64) -> Option<Value<'gc>> {
        match self.table {
            Value::Table(t) => Some(t.get_int(i)).filter(|v| !v.is_nil()),
            _ => None,
        }
    }

    /// `t[i] = v` when it needs no metamethod; whether it was done.
    #[inline]
    fn fast_set(&self, ctx: Ctx<'gc>, i: i64, v: Value<'gc>) -> bool {
        let Value::Table(t) = self.table else {
            return false;
        };
        let mut state = t.state_mut(ctx.mc);
        if state.metatable().is_none() || !state.get_int(i).is_nil() {
            state.set_int(i, v);
            return true;
        }
        false
    }

    /// `a < b` when it needs no call: no order function, numbers or strings.
    #[inline]
    fn fast_less(&self, a: Value<'gc>, b: Value<'gc>) -> Option<bool> {
        if self.order.is_nil() {
            primitive_order(a, b, false)
        } else {
            None
        }
    }

    /// `t[i]`, at once when it can be. Out of line, as are [`Sort::set`] and [`Sort::less`]:
    /// [`Sort::run`] reaches each from many steps.
    #[inline(never)]
    fn get(
        &mut self,
        ctx: Ctx<'gc>,
        call: &mut NativeCall<'_, 'gc>,
        i: i64,
        next: i64,
    ) -> Option<Value<'gc>> {
        if let Some(v) = self.fast_get(i) {
            return Some(v);
        }
        let then = then(sort_cont, next);
        let table = self.table;
        self.ready(access::get_through_metamethods(
            ctx,
            call,
            table,
            Value::Integer(i),
            then,
        ))
    }

    /// `t[i] = v`, at once when it can be.
    #[inline(never)]
    fn set(
        &mut self,
        ctx: Ctx<'gc>,
        call: &mut NativeCall<'_, 'gc>,
        i: i64,
        v: Value<'gc>,
        next: i64,
    ) -> Option<Value<'gc>> {
        if self.fast_set(ctx, i, v) {
            return Some(Value::Nil);
        }
        let then = then(sort_cont, next);
        let table = self.table;
        self.ready(access::set_through_metamethods(
            ctx,
            call,
            table,
            Value::Integer(i),
            v,
            then,
        ))
    }

    /// `a < b`, at once when it can be, else through the order function or `__lt`.
    #[inline(never)]
    fn less(
        &mut self,
        ctx: Ctx<'gc>,
        call: &mut NativeCall<'_, 'gc>,
        a: Value<'gc>,
        b: Value<'gc>,
        next: i64,
    ) -> Option<Value<'gc>> {
        let flow = self.compare(ctx, call, a, b, next);
        self.ready(flow)
    }

    /// `a < b` through the order function or `__lt`, unless numbers or strings.
    fn compare(
        &self,
        ctx: Ctx<'gc>,
        call: &mut NativeCall<'_, 'gc>,
        a: Value<'gc>,
        b: Value<'gc>,
        next: i64,
    ) -> Result<Flow<'gc>, Error<'gc>> {
        let then = then(sort_cont, next);
        if !self.order.is_nil() {
            let order = self.order;
            return Ok(Flow::Wait(access::call_function(
                call,
                order,
                &[a, b],
                then,
            )));
        }
        if let Some(r) = primitive_order(a, b, false) {
            return Ok(Flow::Ready(Value::Boolean(r)));
        }
        let mut tm = metamethod(ctx, a, MetaEvent::Lt);
        if tm.is_nil() {
            tm = metamethod(ctx, b, MetaEvent::Lt);
        }
        if tm.is_nil() {
            // Raised inside the library: lua5.4 gives it no position.
            return Err(match compare_error(ctx, a, b) {
                Error::Runtime(msg) => access::plain_error(ctx, &msg),
                e => e,
            });
        }
        Ok(Flow::Wait(access::call_function(call, tm, &[a, b], then)))
    }

    /// The value of a completed operation; else keeps what stopped it for [`Sort::stop`].
    fn ready(&mut self, flow: Result<Flow<'gc>, Error<'gc>>) -> Option<Value<'gc>> {
        match flow {
            Ok(Flow::Ready(v)) => Some(v),
            Ok(Flow::Wait(action)) => {
                self.stop = Ok(action);
                None
            }
            Err(e) => {
                self.stop = Err(e);
                None
            }
        }
    }

    /// Saves the state and returns the call it waits for (or the error).
    #[inline(never)]
    fn stop(&mut self, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
        self.save(call);
        core::mem::replace(&mut self.stop, Ok(Action::Return))
    }

    /// Queues the range `lo..=up` to be sorted after the current one.
    fn push_range(call: &mut NativeCall<'_, 'gc>, lo: i64, up: i64, random: u32) {
        let n = int(call, slot::PENDING) as usize;
        let at = slot::RANGES + 3 * n;
        call.set_arg(at, Value::Integer(lo));
        call.set_arg(at + 1, Value::Integer(up));
        call.set_arg(at + 2, Value::Integer(random as i64));
        call.set_arg(slot::PENDING, Value::Integer(n as i64 + 1));
    }

    /// Takes the range queued last, if any.
    fn pop_range(&mut self, call: &mut NativeCall<'_, 'gc>) -> bool {
        let n = int(call, slot::PENDING) as usize;
        if n == 0 {
            return false;
        }
        let at = slot::RANGES + 3 * (n - 1);
        self.lo = int(call, at);
        self.up = int(call, at + 1);
        self.random = int(call, at + 2) as u32;
        call.set_nargs(at);
        call.set_arg(slot::PENDING, Value::Integer(n as i64 - 1));
        true
    }

    /// The pivot's index: the middle, or a randomised one in the middle half of a long
    /// range that partitioned badly before.
    fn choose_pivot(&self) -> i64 {
        let (lo, up) = (self.lo as u32, self.up as u32);
        if up - lo < RANDOM_PIVOT_LIMIT || self.random == 0 {
            ((lo + up) / 2) as i64
        } else {
            let quarter = (up - lo) / 4;
            (self.random % (quarter * 2) + lo + quarter) as i64
        }
    }

    fn run(
        mut self,
        ctx: Ctx<'gc>,
        call: &mut NativeCall<'_, 'gc>,
        mut at: i64,
        mut v: Value<'gc>,
    ) -> R<'gc> {
        use step::*;
        // Each access or comparison completes at once when it can; otherwise the state is
        // saved and the call it needs is returned, to resume at step `$next`.
        macro_rules! get {
            ($i:expr, $next:expr) => {
                match self.get(ctx, call, $i, $next) {
                    Some(v) => v,
                    None => return self.stop(call),
                }
            };
        }
        macro_rules! set {
            ($i:expr, $v:expr, $next:expr) => {
                match self.set(ctx, call, $i, $v, $next) {
                    Some(v) => v,
                    None => return self.stop(call),
                }
            };
        }
        macro_rules! less {
            ($a:expr, $b:expr, $next:expr) => {
                match self.less(ctx, call, $a, $b, $next) {
                    Some(v) => v,
                    None => return self.stop(call),
                }
            };
        }
        // The partition loop's own steps try the fast paths inline first.
        macro_rules! hot_get {
            ($i:expr, $next:expr) => {{
                let i = $i;
                match self.fast_get(i) {
                    Some(v) => v,
                    None => get!(i, $next),
                }
            }};
        }
        macro_rules! hot_set {
            ($i:expr, $v:expr, $next:expr) => {{
                let (i, v) = ($i, $v);
                if !self.fast_set(ctx, i, v) {
                    set!(i, v, $next);
                }
            }};
        }
        macro_rules! hot_less {
            ($a:expr, $b:expr, $next:expr) => {{
                let (a, b) = ($a, $b);
                match self.fast_less(a, b) {
                    Some(r) => Value::Boolean(r),
                    None => less!(a, b, $next),
                }
            }};
        }
        let mut work = 0;
        // Counted where the partition loops, and no value is in flight, so that the saved
        // state is all there is when it pauses.
        macro_rules! turn {
            () => {
                work += 1;
                if work >= SORT_TURN {
                    ctx.charge_fuel(i64::from(work) * 4);
                    self.save(call);
                    return Ok(Action::Pause {
                        then: then(sort_cont, at),
                    });
                }
            };
        }
        loop {
            match at {
                LENGTH => {
                    let n = to_length(v)?;
                    if n <= 1 {
                        return call.ret0();
                    }
                    if n >= i32::MAX as i64 {
                        return Err(Error::bad_arg(1, "array too big"));
                    }
                    if !call.arg(slot::ORDER).is_nil() {
                        call.check_function(ctx, slot::ORDER)?;
                    }
                    call.set_arg(slot::PENDING, Value::Integer(0));
                    (self.lo, self.up, self.random) = (1, n, 0);
                    at = RANGE;
                }
                RANGE => {
                    turn!();
                    if self.lo >= self.up {
                        at = RANGE_DONE;
                        continue;
                    }
                    v = get!(self.lo, GOT_LO);
                    at = GOT_LO;
                }
                GOT_LO => {
                    self.a = v;
                    v = get!(self.up, GOT_UP);
                    at = GOT_UP;
                }
                GOT_UP => {
                    self.b = v;
                    v = less!(self.b, self.a, UP_LESS_LO);
                    at = UP_LESS_LO;
                }
                UP_LESS_LO => {
                    if v.is_truthy() {
                        set!(self.lo, self.b, SWAPPED_ENDS_1);
                        at = SWAPPED_ENDS_1;
                    } else {
                        at = ENDS_SORTED;
                    }
                }
                SWAPPED_ENDS_1 => {
                    set!(self.up, self.a, ENDS_SORTED);
                    at = ENDS_SORTED;
                }
                ENDS_SORTED => {
                    if self.up - self.lo == 1 {
                        at = RANGE_DONE;
                        continue;
                    }
                    self.p = self.choose_pivot();
                    v = get!(self.p, GOT_MID);
                    at = GOT_MID;
                }
                GOT_MID => {
                    self.a = v;
                    v = get!(self.lo, GOT_LO_AGAIN);
                    at = GOT_LO_AGAIN;
                }
                GOT_LO_AGAIN => {
                    self.b = v;
                    v = less!(self.a, self.b, MID_LESS_LO);
                    at = MID_LESS_LO;
                }
                MID_LESS_LO => {
                    if v.is_truthy() {
                        set!(self.p, self.b, SWAPPED_MID_LO_1);
                        at = SWAPPED_MID_LO_1;
                    } else {
                        v = get!(self.up, GOT_UP_AGAIN);
                        at = GOT_UP_AGAIN;
                    }
                }
                SWAPPED_MID_LO_1 => {
                    set!(self.lo, self.a, MEDIAN_SORTED);
                    at = MEDIAN_SORTED;
                }
                GOT_UP_AGAIN => {
                    self.b = v;
                    v = less!(self.b, self.a, UP_LESS_MID);
                    at = UP_LESS_MID;
                }
                UP_LESS_MID => {
                    if v.is_truthy() {
                        set!(self.p, self.b, SWAPPED_MID_UP_1);
                        at = SWAPPED_MID_UP_1;
                    } else {
                        at = MEDIAN_SORTED;
                    }
                }
                SWAPPED_MID_UP_1 => {
                    set!(self.up, self.a, MEDIAN_SORTED);
                    at = MEDIAN_SORTED;
                }
                MEDIAN_SORTED => {
                    if self.up - self.lo == 2 {
                        at = RANGE_DONE;
                        continue;
                    }
                    v = get!(self.p, GOT_PIVOT);
                    at = GOT_PIVOT;
                }
                GOT_PIVOT => {
                    self.pivot = v;
                    v = get!(self.up - 1, GOT_UP_1);
                    at = GOT_UP_1;
                }
                GOT_UP_1 => {
                    // The pivot goes to up - 1, out of the way of the partition.
                    set!(self.p, v, PIVOT_MOVED_1);
                    at = PIVOT_MOVED_1;
                }
                PIVOT_MOVED_1 => {
                    set!(self.up - 1, self.pivot, PARTITION);
                    at = PARTITION;
                }
                PARTITION => {
                    (self.i, self.j) = (self.lo, self.up - 1);
                    at = NEXT_I;
                }
                NEXT_I => {
                    turn!();
                    self.i += 1;
                    v = hot_get!(self.i, GOT_I);
                    at = GOT_I;
                }
                GOT_I => {
                    self.a = v;
                    v = hot_less!(self.a, self.pivot, I_LESS_PIVOT);
                    at = I_LESS_PIVOT;
                }
                I_LESS_PIVOT => {
                    if v.is_truthy() {
                        if self.i == self.up - 1 {
                            return Err(Error::runtime("invalid order function for sorting"));
                        }
                        at = NEXT_I;
                    } else {
                        at = NEXT_J;
                    }
                }
                NEXT_J => {
                    turn!();
                    self.j -= 1;
                    v = hot_get!(self.j, GOT_J);
                    at = GOT_J;
                }
                GOT_J => {
                    self.b = v;
                    v = hot_less!(self.pivot, self.b, PIVOT_LESS_J);
                    at = PIVOT_LESS_J;
                }
                PIVOT_LESS_J => {
                    if v.is_truthy() {
                        if self.j < self.i {
                            return Err(Error::runtime("invalid order function for sorting"));
                        }
                        at = NEXT_J;
                    } else if self.j < self.i {
                        set!(self.up - 1, self.a, PIVOT_PLACED_1);
                        at = PIVOT_PLACED_1;
                    } else {
                        hot_set!(self.i, self.b, SWAPPED_IJ_1);
                        at = SWAPPED_IJ_1;
                    }
                }
                SWAPPED_IJ_1 => {
                    hot_set!(self.j, self.a, NEXT_I);
                    at = NEXT_I;
                }
                PIVOT_PLACED_1 => {
                    set!(self.i, self.pivot, PARTITIONED);
                    at = PARTITIONED;
                }
                PARTITIONED => {
                    // Sort the smaller part now, the larger one after it.
                    let p = self.i;
                    let (small, large, n) = if p - self.lo < self.up - p {
                        ((self.lo, p - 1), (p + 1, self.up), p - self.lo)
                    } else {
                        ((p + 1, self.up), (self.lo, p - 1), self.up - p)
                    };
                    let span = (large.1 as u32).wrapping_sub(large.0 as u32);
                    let random = if span / 128 > n as u32 {
                        ctx.with_host(|h| h.random_seed()) as u32
                    } else {
                        self.random
                    };
                    Self::push_range(call, large.0, large.1, random);
                    (self.lo, self.up) = small;
                    at = RANGE;
                }
                _ => {
                    if !self.pop_range(call) {
                        ctx.charge_fuel(i64::from(work) * 4);
                        return call.ret0();
                    }
                    at = RANGE;
                }
            }
        }
    }
}
