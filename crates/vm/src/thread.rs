//! Threads (coroutines): a value stack shared by all of the thread's frames, the frames
//! themselves, the open upvalues and the to-be-closed variables.

use alloc::vec::Vec;
use core::cell::{Ref, RefMut};

use allocator_api2::vec::Vec as AVec;
use gc_arena::allocator_api::MetricsAlloc;
use gc_arena::lock::{Lock, RefLock};
use gc_arena::{Collect, Gc, Mutation};

use crate::function::{LuaClosure, NativeClosure, Upval, UpvalState};
use crate::interp::Cont;
use crate::value::Value;

/// A Lua thread.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Thread<'gc>(pub(crate) Gc<'gc, RefLock<ThreadState<'gc>>>);

impl<'gc> PartialEq for Thread<'gc> {
    fn eq(&self, other: &Self) -> bool {
        Gc::ptr_eq(self.0, other.0)
    }
}

impl<'gc> Eq for Thread<'gc> {}

impl<'gc> Thread<'gc> {
    pub fn new(mc: &Mutation<'gc>) -> Thread<'gc> {
        Thread(Gc::new(
            mc,
            RefLock::new(ThreadState {
                stack: AVec::new_in(MetricsAlloc::new(mc)),
                frames: AVec::new_in(MetricsAlloc::new(mc)),
                open_upvals: Vec::new(),
                pending: Pending::Waiting,
                tbc: Vec::new(),
                status: Status::Suspended,
                error: Value::Nil,
                closing: Closing::No,
                hooks: Default::default(),
                finalizing: false,
                overflowed: false,
                raised_by: None,
                native_depth: 0,
                handling: 0,
            }),
        ))
    }

    pub(crate) fn addr(self) -> usize {
        Gc::as_ptr(self.0) as *const () as usize
    }

    /// Its state, to read (libraries that inspect threads: `coroutine`, `debug`).
    pub fn state(self) -> Ref<'gc, ThreadState<'gc>> {
        self.0.borrow()
    }

    /// Its state, to change.
    pub fn state_mut(self, mc: &Mutation<'gc>) -> RefMut<'gc, ThreadState<'gc>> {
        self.0.borrow_mut(mc)
    }
}

/// What `coroutine.status` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Collect, Default)]
#[collect(require_static)]
pub enum Status {
    /// Not started, or stopped in a yield.
    #[default]
    Suspended,
    Running,
    /// It resumed another coroutine and waits for it.
    Normal,
    Dead,
}

/// Where a call's results go when it returns.
#[derive(Clone, Copy, Collect)]
#[collect(require_static)]
pub(crate) enum RetMode {
    /// To the callee's function slot onwards: `want` values, or all of them (`-1`, which sets
    /// the caller's top).
    Normal { want: i32 },
    /// The first result to `stack[dest]` (metamethods `__index`, arithmetic, `__len`...).
    Single { dest: u32 },
    /// The first result's truth decides the caller's branch: if it equals `k`, the caller
    /// jumps by `off` (comparison metamethods).
    Cond { k: bool, off: i32 },
    /// Nothing (`__newindex`).
    Discard,
    /// A debug hook returned: the interrupted instruction runs.
    Hook,
    /// Nothing, and the caller runs its current instruction again (a `__close` called by
    /// `Close` or a return, which go on with the next variable to close).
    Reexecute,
    /// The result replaces operands `n-1` and `n` of a `Concat` whose operands start at
    /// `first`; the concatenation then goes on with `n - 1` operands.
    Concat { first: u32, n: u32 },
    /// A `__close` called while unwinding for an error, which waits in `stack[slot]`: then
    /// go on unwinding.
    Unwind { slot: u32 },
    /// The message handler of an `xpcall`: its result becomes the error value.
    Handler,
}

/// A call of a Lua function.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct LuaFrame<'gc> {
    /// The function running.
    pub closure: LuaClosure<'gc>,
    /// Register 0 is `stack[base]`.
    pub base: u32,
    /// Index of the next instruction.
    pub pc: u32,
    /// The function's slot: normal results go here.
    pub func: u32,
    /// Varargs are `stack[base - varargs .. base]`.
    pub varargs: u32,
    /// Top of the values of the instruction that made a call (its `b == 0` operands).
    pub(crate) top: u32,
    pub(crate) ret: RetMode,
    /// Reached through a tail call (tracebacks say so).
    pub tail: bool,
}

/// A native function waiting for a call it made, or suspended in a yield.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct NativeFrame<'gc> {
    /// The function waiting.
    pub closure: NativeClosure<'gc>,
    /// Its arguments start here; its function slot is `base - 1`.
    pub base: u32,
    /// What it continues with.
    pub cont: Cont,
    pub(crate) ret: RetMode,
}

/// The state of the call the native frame on top waits for.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub(crate) enum Pending<'gc> {
    Waiting,
    /// Returned; the results are `stack[at..]`.
    Returned {
        at: usize,
    },
    Raised(Value<'gc>),
}

/// A call in a thread's frames.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub enum Frame<'gc> {
    Lua(LuaFrame<'gc>),
    Native(NativeFrame<'gc>),
}

#[derive(Collect)]
#[collect(no_drop)]
pub struct ThreadState<'gc> {
    /// The value stack of all its frames.
    pub stack: AVec<Value<'gc>, MetricsAlloc<'gc>>,
    /// Its calls, innermost last.
    pub frames: AVec<Frame<'gc>, MetricsAlloc<'gc>>,
    /// Upvalues still pointing into `stack`, with their slots, by ascending slot.
    pub(crate) open_upvals: Vec<(usize, Upval<'gc>)>,
    /// How the call awaited by the native frame on top ended, once it has: the interpreter
    /// then runs that frame's continuation.
    pub(crate) pending: Pending<'gc>,
    /// Stack indices of the to-be-closed variables, ascending.
    pub(crate) tbc: Vec<usize>,
    pub(crate) status: Status,
    /// The error a dead coroutine ended with (`coroutine.close` reports it).
    pub error: Value<'gc>,
    pub(crate) closing: Closing,
    /// `debug.sethook`'s hook and its bookkeeping.
    pub hooks: crate::interp::hook::HookState<'gc>,
    /// A `__gc` finalizer is running in this thread (they do not nest).
    pub finalizing: bool,
    /// It overflowed its stack and has not unwound yet: handlers get extra room.
    pub(crate) overflowed: bool,
    /// The native function (run in place, without a frame) that raised the error being
    /// raised, for the traceback; kept after a coroutine died of it.
    pub raised_by: Option<NativeClosure<'gc>>,
    /// Native functions running inside each other on the Rust stack (a native calling a
    /// native): bounded like lua5.4's C stack.
    pub(crate) native_depth: u32,
    /// Native message handlers being called inside each other.
    pub(crate) handling: u32,
}

/// Where `coroutine.close` is with a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Collect, Default)]
#[collect(require_static)]
pub(crate) enum Closing {
    #[default]
    No,
    /// It will close its to-be-closed variables when it next runs.
    Requested,
    /// It is calling their `__close` metamethods.
    Running,
}

impl<'gc> ThreadState<'gc> {
    /// Room for `n` more stack slots, within the memory limit and what the platform has:
    /// for natives and varargs that push data-sized runs of values.
    pub fn reserve_stack(
        &mut self,
        ctx: crate::state::Ctx<'gc>,
        n: usize,
    ) -> Result<(), crate::interp::Error<'gc>> {
        if self.stack.capacity() - self.stack.len() >= n {
            return Ok(());
        }
        // Doubling, as the vector would; growing copies it, so all of it counts.
        let want = (self.stack.len() + n).max(self.stack.capacity() * 2);
        ctx.check_alloc(want * core::mem::size_of::<Value>())?;
        self.stack
            .try_reserve(want - self.stack.len())
            .map_err(|_| ctx.memory_error())
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The upvalue for `stack[index]`, shared with every closure that captured it.
    pub(crate) fn find_upval(
        &mut self,
        mc: &Mutation<'gc>,
        me: Thread<'gc>,
        index: usize,
    ) -> Upval<'gc> {
        let pos = self.open_upvals.partition_point(|(i, _)| *i < index);
        if let Some(&(i, u)) = self.open_upvals.get(pos) {
            if i == index {
                return u;
            }
        }
        let u = Upval(Gc::new(
            mc,
            Lock::new(UpvalState::Open { thread: me, index }),
        ));
        self.open_upvals.insert(pos, (index, u));
        u
    }

    /// Closes the upvalues of `stack[from..]`: each takes its variable's current value.
    pub(crate) fn close_upvals(&mut self, mc: &Mutation<'gc>, from: usize) {
        while let Some(&(index, u)) = self.open_upvals.last() {
            if index < from {
                break;
            }
            self.open_upvals.pop();
            let value = self.stack.get(index).copied().unwrap_or_default();
            u.0.set(mc, UpvalState::Closed(value));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn frames_stay_small() {
        assert!(core::mem::size_of::<super::Frame<'static>>() <= 64);
    }
}
