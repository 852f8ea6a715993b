//! Weak tables, ephemerons and `__gc` finalizers on top of gc-arena.
//!
//! gc-arena traces every `Value` it can reach, so weak entries are taken out of the traced
//! graph for the marking phase: when a cycle starts (and weak tables exist), the weak parts
//! of every weak table are moved into [`GcLists::detached`] as `GcWeak` pointers and the
//! whole heap is marked at once. In the finalization callback we then see what is dead:
//! - values of live weak keys are resurrected until nothing changes (ephemerons);
//! - entries whose weak value is dead are dropped (before finalizers, as Lua does);
//! - dead objects with a `__gc` are resurrected and queued for their finalizer;
//! - the surviving entries go back into their slots, dead ones leave tombstones.
//!
//! Slots keep their positions, so a `pairs` traversal across a collection keeps working.

use alloc::vec::Vec;

use gc_arena::lock::RefLock;
use gc_arena::{Collect, Finalization, Gc, GcWeak, Mutation};

use crate::checked::borrow_mut;
use crate::function::{LuaClosureData, NativeData};
use crate::interp::MetaEvent;
use crate::state::Ctx;
use crate::string::{LuaStr, StrData};
use crate::table::{Slot, Table, TableState};
use crate::thread::ThreadState;
use crate::userdata::{UserData, UserDataState};
use crate::value::{Function, Value};

/// A collectable object held without keeping it alive.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub(crate) enum WeakRef<'gc> {
    Table(GcWeak<'gc, RefLock<TableState<'gc>>>),
    Lua(GcWeak<'gc, LuaClosureData<'gc>>),
    Native(GcWeak<'gc, NativeData<'gc>>),
    Thread(GcWeak<'gc, RefLock<ThreadState<'gc>>>),
    UserData(GcWeak<'gc, RefLock<UserDataState<'gc>>>),
}

impl<'gc> WeakRef<'gc> {
    /// A weak reference to `v`, if `v` is an object weak tables let go of (strings are not).
    fn of(v: Value<'gc>) -> Option<Self> {
        Some(match v {
            Value::Table(t) => WeakRef::Table(Gc::downgrade(t.0)),
            Value::Function(Function::Lua(c)) => WeakRef::Lua(Gc::downgrade(c.0)),
            Value::Function(Function::Native(n)) => WeakRef::Native(Gc::downgrade(n.0)),
            Value::Thread(t) => WeakRef::Thread(Gc::downgrade(t.0)),
            Value::UserData(u) => WeakRef::UserData(Gc::downgrade(u.0)),
            _ => return None,
        })
    }

    fn is_dead(self, fc: &Finalization<'gc>) -> bool {
        match self {
            WeakRef::Table(w) => w.is_dead(fc),
            WeakRef::Lua(w) => w.is_dead(fc),
            WeakRef::Native(w) => w.is_dead(fc),
            WeakRef::Thread(w) => w.is_dead(fc),
            WeakRef::UserData(w) => w.is_dead(fc),
        }
    }

    /// Keeps the object alive this cycle (and everything it reaches, once marking resumes).
    fn resurrect(self, fc: &Finalization<'gc>) -> Option<Value<'gc>> {
        Some(match self {
            WeakRef::Table(w) => Value::Table(Table(w.resurrect(fc)?)),
            WeakRef::Lua(w) => Value::from(crate::function::LuaClosure(w.resurrect(fc)?)),
            WeakRef::Native(w) => Value::from(crate::function::NativeClosure(w.resurrect(fc)?)),
            WeakRef::Thread(w) => Value::Thread(crate::thread::Thread(w.resurrect(fc)?)),
            WeakRef::UserData(w) => Value::UserData(UserData(w.resurrect(fc)?)),
        })
    }

    fn upgrade(self, mc: &Mutation<'gc>) -> Option<Value<'gc>> {
        Some(match self {
            WeakRef::Table(w) => Value::Table(Table(w.upgrade(mc)?)),
            WeakRef::Lua(w) => Value::from(crate::function::LuaClosure(w.upgrade(mc)?)),
            WeakRef::Native(w) => Value::from(crate::function::NativeClosure(w.upgrade(mc)?)),
            WeakRef::Thread(w) => Value::Thread(crate::thread::Thread(w.upgrade(mc)?)),
            WeakRef::UserData(w) => Value::UserData(UserData(w.upgrade(mc)?)),
        })
    }
}

/// One side of a detached entry.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
enum Held<'gc> {
    Strong(Value<'gc>),
    Weak(WeakRef<'gc>),
    /// A string: never what makes an entry go (strings are values to weak tables), but
    /// held weakly so that it is freed with an entry that goes, and revived if it stays.
    Str(GcWeak<'gc, StrData<'gc>>),
}

impl<'gc> Held<'gc> {
    fn new(v: Value<'gc>, weak: bool) -> Self {
        match (v, WeakRef::of(v)) {
            (Value::String(s), _) => Held::Str(Gc::downgrade(s.0)),
            (_, Some(w)) if weak => Held::Weak(w),
            _ => Held::Strong(v),
        }
    }

    fn is_dead(self, fc: &Finalization<'gc>) -> bool {
        matches!(self, Held::Weak(w) if w.is_dead(fc))
    }

    /// The value of a part of an entry that stays: strings are revived for this cycle.
    fn keep(self, fc: &Finalization<'gc>) -> Option<Value<'gc>> {
        match self {
            Held::Strong(v) => Some(v),
            Held::Weak(w) => w.upgrade(fc),
            Held::Str(w) => w.resurrect(fc).map(|s| Value::String(LuaStr(s))),
        }
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct DetachedEntry<'gc> {
    #[collect(require_static)]
    slot: Slot,
    key: Held<'gc>,
    value: Held<'gc>,
    /// A weak-key entry: its value lives exactly as long as its key.
    #[collect(require_static)]
    ephemeron: bool,
    /// The value was found dead before finalizers ran: the entry goes.
    #[collect(require_static)]
    value_dead: bool,
}

#[derive(Collect)]
#[collect(no_drop)]
struct Detached<'gc> {
    table: GcWeak<'gc, RefLock<TableState<'gc>>>,
    entries: Vec<DetachedEntry<'gc>>,
}

/// What the collector needs to know beyond the object graph.
#[derive(Collect, Default)]
#[collect(no_drop)]
pub(crate) struct GcLists<'gc> {
    weak_tables: Vec<GcWeak<'gc, RefLock<TableState<'gc>>>>,
    detached: Vec<Detached<'gc>>,
    /// Objects whose metatable had `__gc` when it was set.
    finalizable: Vec<WeakRef<'gc>>,
    /// Dead objects kept alive until their finalizer has run.
    pub(crate) pending: Vec<Value<'gc>>,
}

impl<'gc> GcLists<'gc> {
    /// Whether collections need the finalization passes (weak tables or finalizers exist).
    pub(crate) fn needs_finalization(&self) -> bool {
        !self.weak_tables.is_empty() || !self.finalizable.is_empty()
    }

    /// Queues every object with a finalizer, dead or alive (closing the state).
    pub(crate) fn queue_all_finalizers(&mut self, mc: &Mutation<'gc>) {
        for w in self.finalizable.drain(..) {
            if let Some(v) = w.upgrade(mc) {
                self.pending.push(v);
            }
        }
    }
}

/// Called whenever a metatable is set: registers weak tables (`__mode`) and objects to
/// finalize (`__gc`), as lua5.4 looks at those fields when the metatable is set.
pub fn note_metatable<'gc>(ctx: Ctx<'gc>, v: Value<'gc>, mt: Option<Table<'gc>>) {
    let mode = match mt.map(|mt| mt.get_str(ctx.meta_name(MetaEvent::Mode))) {
        Some(Value::String(s)) => {
            let b = s.as_bytes();
            (b.contains(&b'k') as u8) | ((b.contains(&b'v') as u8) << 1)
        }
        _ => 0,
    };
    if let Value::Table(t) = v {
        let was = t.state().weak_mode();
        t.state_mut(ctx.mc).set_weak_mode(mode);
        if mode != 0 && was == 0 {
            borrow_mut(ctx.gc_lists(), ctx.mc)
                .weak_tables
                .push(Gc::downgrade(t.0));
        }
    }
    let has_gc = mt.is_some_and(|mt| !mt.get_str(ctx.meta_name(MetaEvent::Gc)).is_nil());
    if has_gc {
        if let Some(w) = WeakRef::of(v) {
            let mut lists = borrow_mut(ctx.gc_lists(), ctx.mc);
            if !lists.finalizable.iter().any(|f| same(*f, w)) {
                lists.finalizable.push(w);
            }
        }
    }
}

fn same(a: WeakRef<'_>, b: WeakRef<'_>) -> bool {
    fn addr<T: ?Sized>(w: GcWeak<'_, T>) -> *const () {
        w.as_ptr() as *const ()
    }
    let p = |w: WeakRef<'_>| match w {
        WeakRef::Table(w) => addr(w),
        WeakRef::Lua(w) => addr(w),
        WeakRef::Native(w) => addr(w),
        WeakRef::Thread(w) => addr(w),
        WeakRef::UserData(w) => addr(w),
    };
    p(a) == p(b)
}

/// Start of a cycle: takes the weak parts of every weak table out of the traced graph.
pub(crate) fn detach_weak_entries<'gc>(ctx: Ctx<'gc>) {
    let lists_gc = ctx.gc_lists();
    let tables: Vec<_> = {
        let mut lists = borrow_mut(lists_gc, ctx.mc);
        lists.weak_tables.retain(|w| w.upgrade(ctx.mc).is_some());
        lists.weak_tables.clone()
    };
    let mut detached = Vec::new();
    for w in tables {
        let Some(t) = w.upgrade(ctx.mc) else { continue };
        let mut state = borrow_mut(t, ctx.mc);
        let mode = state.weak_mode();
        let (weak_keys, weak_values) = (mode & 1 != 0, mode & 2 != 0);
        let collectable = |v: Value<'gc>| WeakRef::of(v).is_some();
        let entries: Vec<DetachedEntry<'gc>> = state
            .take_entries(|k, v| (weak_keys && collectable(k)) || (weak_values && collectable(v)))
            .into_iter()
            .map(|(slot, k, v)| {
                let ephemeron = weak_keys && !weak_values && collectable(k);
                DetachedEntry {
                    slot,
                    key: Held::new(k, weak_keys),
                    // An ephemeron's value must not keep its key alive through the table.
                    value: Held::new(v, weak_values || ephemeron),
                    ephemeron,
                    value_dead: false,
                }
            })
            .collect();
        if !entries.is_empty() {
            detached.push(Detached { table: w, entries });
        }
    }
    borrow_mut(lists_gc, ctx.mc).detached = detached;
}

/// Ephemerons: the value of a live weak key lives. Returns whether anything was
/// resurrected (marking must then run again before the next pass).
pub(crate) fn revive_ephemeron_values<'gc>(fc: &Finalization<'gc>, lists: &GcLists<'gc>) -> bool {
    let mut revived = false;
    for d in &lists.detached {
        if d.table.is_dead(fc) {
            continue;
        }
        for e in d.entries.iter().filter(|e| e.ephemeron) {
            if let Held::Weak(v) = e.value {
                if !e.key.is_dead(fc) && v.is_dead(fc) && v.resurrect(fc).is_some() {
                    revived = true;
                }
            }
        }
    }
    revived
}

/// Records which weak values are dead, then resurrects dead objects that have finalizers
/// and queues them. Returns whether anything was resurrected.
pub(crate) fn queue_finalizers<'gc>(fc: &Finalization<'gc>, lists: &mut GcLists<'gc>) -> bool {
    for d in &mut lists.detached {
        for e in d.entries.iter_mut().filter(|e| !e.ephemeron) {
            e.value_dead = e.value.is_dead(fc);
        }
    }
    let mut queued = Vec::new();
    lists.finalizable.retain(|w| {
        if w.is_dead(fc) {
            if let Some(v) = w.resurrect(fc) {
                queued.push(v);
            }
            false
        } else {
            true
        }
    });
    // `pending` is popped from the end: finalizers run in reverse order of registration.
    let any = !queued.is_empty();
    lists.pending.extend(queued);
    any
}

/// Puts the surviving weak entries back into their slots; dead ones leave tombstones.
pub(crate) fn restore_weak_entries<'gc>(fc: &Finalization<'gc>, lists: &mut GcLists<'gc>) {
    for d in core::mem::take(&mut lists.detached) {
        if d.table.is_dead(fc) {
            continue;
        }
        let Some(t) = d.table.upgrade(fc) else {
            continue;
        };
        let mut state = borrow_mut(t, fc);
        for e in d.entries {
            let alive = !e.value_dead && !e.key.is_dead(fc) && !e.value.is_dead(fc);
            let kv = if alive {
                e.key.keep(fc).zip(e.value.keep(fc))
            } else {
                None
            };
            state.restore_entry(e.slot, kv);
        }
    }
}
