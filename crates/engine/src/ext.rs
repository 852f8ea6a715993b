//! External tables: Lua tables whose entries live in the host.
//!
//! A proxy is an empty Lua table with its own protected metatable; the metatable carries the
//! table id under a key no script can name, plus the shared `__index`, `__newindex`, `__len`,
//! `__pairs` and `__tostring` callbacks. There is one proxy per id (a weak map keeps identity
//! without keeping proxies alive), so `_home.a == _home.a` holds.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use gc_arena::{lock::RefLock, Collect, Gc, GcWeak, Mutation};
use piccolo::{
    table::{RawTable, TableInner},
    BoxSequence, Callback, CallbackReturn, Closure, Context, Error, Execution, Function, IntoValue,
    Sequence, SequencePoll, Table, Value,
};

use crate::codec::{self, Item, Reader, Writer};
use crate::function::{self, BuiltinNames, UpvalueValues};
use crate::host::{Host, HostError};

/// Id of `_io`: reserved, never allocated by the counter and never persisted.
pub const IO_TABLE_ID: u32 = 0;
/// The first id the counter hands out.
pub const FIRST_TABLE_ID: u32 = 1;

/// Engine-wide state outside the GC arena, shared by the callbacks.
pub struct Shared {
    pub host: Rc<dyn Host>,
    pub next_id: Cell<u32>,
    pub memory_table_id: Cell<u32>,
    /// Bumped by every write this VM makes, so a `pairs` page knows when its values may be stale.
    pub generation: Cell<u64>,
    pub output: RefCell<Vec<u8>>,
    /// Whether `load` accepts binary chunks (off in the sandboxed default).
    pub allow_binary: Cell<bool>,
    /// Host calls made by loops inside one Lua operation (`#t`, storing a plain table, a
    /// `pairs` step past deleted entries), charged to the run's instruction budget by the
    /// session.
    pub loop_calls: Cell<u64>,
    key_buf: RefCell<Vec<u8>>,
    value_buf: RefCell<Vec<u8>>,
}

/// Output is buffered and handed to the host in pieces of about this size.
pub const OUTPUT_FLUSH_BYTES: usize = 8 * 1024;

impl Shared {
    pub fn new(host: Rc<dyn Host>) -> Rc<Shared> {
        Rc::new(Shared {
            host,
            next_id: Cell::new(FIRST_TABLE_ID),
            memory_table_id: Cell::new(0),
            generation: Cell::new(0),
            output: RefCell::new(Vec::new()),
            allow_binary: Cell::new(false),
            loop_calls: Cell::new(0),
            key_buf: RefCell::new(Vec::new()),
            value_buf: RefCell::new(Vec::new()),
        })
    }

    /// Allocates a fresh table id. Only the module allocates ids.
    pub fn allocate_id(&self) -> Result<u32, HostError> {
        let id = self.next_id.get();
        let next = id
            .checked_add(1)
            .ok_or_else(|| HostError("external table ids exhausted".into()))?;
        self.next_id.set(next);
        Ok(id)
    }

    /// Whether `id` names a table this module has handed out (or `_io`).
    pub fn is_known_id(&self, id: u32) -> bool {
        id == IO_TABLE_ID || (FIRST_TABLE_ID..self.next_id.get()).contains(&id)
    }

    fn charge(&self) {
        self.loop_calls.set(self.loop_calls.get() + 1);
    }

    pub fn write_output(&self, bytes: &[u8]) {
        let mut out = self.output.borrow_mut();
        out.extend_from_slice(bytes);
        if out.len() >= OUTPUT_FLUSH_BYTES {
            self.host.write_output(&out);
            out.clear();
        }
    }

    pub fn flush_output(&self) {
        let mut out = self.output.borrow_mut();
        if !out.is_empty() {
            self.host.write_output(&out);
            out.clear();
        }
    }
}

/// The in-arena half of the external-table machinery.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Ext<'gc> {
    /// A private table used as the metatable key holding the id; scripts never see it.
    id_key: Table<'gc>,
    /// The `__len` border hint lives here, per proxy metatable.
    len_key: Table<'gc>,
    proxies: Gc<'gc, RefLock<HashMap<u32, GcWeak<'gc, TableInner<'gc>>>>>,
    live_after_prune: Cell<usize>,
    methods: Gc<'gc, RefLock<Option<Methods<'gc>>>>,
    /// The globals table and the library tables in it, each mapped to its name: they belong
    /// to the state, so storing one is refused (making it external in place would break
    /// every later builtin call).
    libraries: Table<'gc>,
}

#[derive(Collect, Clone, Copy)]
#[collect(no_drop)]
struct Methods<'gc> {
    index: Callback<'gc>,
    new_index: Callback<'gc>,
    len: Callback<'gc>,
    pairs: Callback<'gc>,
    tostring: Callback<'gc>,
}

/// What scripts get from `getmetatable` on an external table.
pub const PROTECTED_METATABLE: &str = "external table";

impl<'gc> Ext<'gc> {
    /// Creates the machinery and its callbacks. Callbacks hold `shared` for the host.
    pub fn new(ctx: Context<'gc>, shared: Rc<Shared>) -> Gc<'gc, Ext<'gc>> {
        let ext = Gc::new(
            &ctx,
            Ext {
                id_key: Table::new(&ctx),
                len_key: Table::new(&ctx),
                proxies: Gc::new(&ctx, RefLock::new(HashMap::new())),
                live_after_prune: Cell::new(0),
                methods: Gc::new(&ctx, RefLock::new(None)),
                libraries: Table::new(&ctx),
            },
        );
        let methods = Methods {
            index: callback(ctx, ext, &shared, index),
            new_index: callback(ctx, ext, &shared, new_index),
            len: callback(ctx, ext, &shared, length),
            pairs: callback(ctx, ext, &shared, pairs),
            tostring: Callback::from_fn_with(&ctx, ext, |ext, ctx, _, mut stack| {
                let id = ext.id_of(stack.get(0)).unwrap_or(0);
                stack.replace(ctx, format!("external table: {id}").into_value(ctx));
                Ok(CallbackReturn::Return)
            }),
        };
        *ext.methods.borrow_mut(&ctx) = Some(methods);
        ext
    }

    /// Records the globals table and the library tables in it as the state's own.
    pub fn register_libraries(&self, ctx: Context<'gc>) {
        let name = |n: &[u8]| Value::String(piccolo::String::from_slice(&ctx, n));
        let globals = ctx.globals();
        for (k, v) in globals.iter() {
            if let (Value::String(k), Value::Table(_)) = (k, v) {
                if self.id_of(v).is_none() {
                    self.libraries
                        .set_value(&ctx, v, name(k.as_bytes()))
                        .expect("table keys are valid");
                }
            }
        }
        self.libraries
            .set_value(&ctx, Value::Table(globals), name(b"_G"))
            .expect("table keys are valid");
    }

    /// The id of an external-table proxy, or `None` for any other value.
    pub fn id_of(&self, value: Value<'gc>) -> Option<u32> {
        let Value::Table(t) = value else { return None };
        match t.metatable()?.get_value(Value::Table(self.id_key)) {
            Value::Integer(id) => u32::try_from(id).ok(),
            _ => None,
        }
    }

    /// The one proxy for `id`, made on first use.
    pub fn proxy(&self, mc: &Mutation<'gc>, ctx: Context<'gc>, id: u32) -> Table<'gc> {
        if let Some(inner) = self.proxies.borrow().get(&id).and_then(|w| w.upgrade(mc)) {
            return Table::from_inner(inner);
        }
        let table = Table::new(mc);
        self.attach(ctx, table, id);
        table
    }

    /// Turns `table` (empty, or about to be emptied) into the proxy for `id`.
    fn attach(&self, ctx: Context<'gc>, table: Table<'gc>, id: u32) {
        let methods = self.methods.borrow().expect("external tables initialised");
        let meta = Table::new(&ctx);
        let set = |k: Value<'gc>, v: Value<'gc>| {
            meta.set_value(&ctx, k, v)
                .expect("metatable keys are valid");
        };
        set(ctx.intern_static(b"__index").into(), methods.index.into());
        set(
            ctx.intern_static(b"__newindex").into(),
            methods.new_index.into(),
        );
        set(ctx.intern_static(b"__len").into(), methods.len.into());
        set(ctx.intern_static(b"__pairs").into(), methods.pairs.into());
        set(
            ctx.intern_static(b"__tostring").into(),
            methods.tostring.into(),
        );
        set(
            ctx.intern_static(b"__metatable").into(),
            ctx.intern_static(PROTECTED_METATABLE.as_bytes()).into(),
        );
        set(Value::Table(self.id_key), Value::Integer(id as i64));
        {
            let mut state = table.into_inner().borrow_mut(&ctx);
            state.raw_table = RawTable::new(&ctx);
            state.metatable = Some(meta);
        }
        let mut proxies = self.proxies.borrow_mut(&ctx);
        proxies.insert(id, Gc::downgrade(table.into_inner()));
        // Forget collected proxies once the map has doubled since the last sweep.
        if proxies.len() > 2 * self.live_after_prune.get().max(512) {
            proxies.retain(|_, weak| weak.upgrade(&ctx).is_some());
            self.live_after_prune.set(proxies.len());
        }
    }

    fn len_hint(&self, table: Table<'gc>) -> i64 {
        match table
            .metatable()
            .map(|m| m.get_value(Value::Table(self.len_key)))
        {
            Some(Value::Integer(n)) => n,
            _ => 0,
        }
    }

    fn set_len_hint(&self, ctx: Context<'gc>, table: Table<'gc>, n: i64) {
        if let Some(meta) = table.metatable() {
            meta.set_value(&ctx, Value::Table(self.len_key), Value::Integer(n))
                .expect("valid key");
        }
    }
}

type Method = for<'gc> fn(
    Context<'gc>,
    Gc<'gc, Ext<'gc>>,
    &Rc<Shared>,
    Execution<'gc, '_>,
    piccolo::Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>>;

fn callback<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    method: Method,
) -> Callback<'gc> {
    let shared = shared.clone();
    Callback::from_fn_with(&ctx, ext, move |ext, ctx, exec, stack| {
        method(ctx, *ext, &shared, exec, stack)
    })
}

pub use stdlib::located_error;

/// Writes nil, booleans, numbers and strings as values; returns false for anything else.
pub fn write_scalar(w: &mut Writer<'_>, value: Value<'_>) -> bool {
    match value {
        Value::Nil => w.nil(),
        Value::Boolean(b) => w.boolean(b),
        Value::Integer(i) => w.integer(i),
        Value::Number(f) => w.float(f),
        Value::String(s) => w.string(s.as_bytes()),
        _ => return false,
    }
    true
}

/// Encodes a Lua value as a table key. `Ok(None)` for nil and NaN, which cannot be keys.
pub fn encode_key<'gc>(
    ext: &Ext<'gc>,
    key: Value<'gc>,
    out: &mut Vec<u8>,
) -> Result<Option<()>, &'static str> {
    out.clear();
    let mut w = Writer(out);
    match key {
        Value::Nil => return Ok(None),
        Value::Number(f) if f.is_nan() => return Ok(None),
        Value::Boolean(b) => w.boolean(b),
        Value::Integer(i) => w.integer(i),
        Value::Number(f) => w.float_key(f),
        Value::String(s) => w.string(s.as_bytes()),
        Value::Table(_) => match ext.id_of(key) {
            Some(id) => w.table_ref(id),
            None => return Err("a plain table"),
        },
        Value::Function(_) => return Err("a function"),
        Value::Thread(_) => return Err("a coroutine"),
        Value::UserData(_) => return Err("a userdata"),
    }
    Ok(Some(()))
}

/// Decodes a stored value. Inline tables and opaque values are never stored, so they are host
/// faults here, as is anything malformed.
pub fn decode_stored<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    bytes: &[u8],
) -> Result<Value<'gc>, HostError> {
    let mut reader = Reader::new(bytes);
    let value = decode_one(ctx, ext, shared, &mut reader)?;
    if !reader.is_empty() {
        return Err(HostError(format!(
            "stored value has {} trailing bytes",
            bytes.len() - reader.position()
        )));
    }
    Ok(value)
}

fn decode_one<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    reader: &mut Reader<'_>,
) -> Result<Value<'gc>, HostError> {
    let item = reader.item().map_err(|e| HostError(e.to_string()))?;
    Ok(match item {
        Item::Nil => Value::Nil,
        Item::Boolean(b) => Value::Boolean(b),
        Item::Integer(i) => Value::Integer(i),
        Item::Float(f) => Value::Number(f),
        Item::String(s) => Value::String(piccolo::String::from_slice(&ctx, s)),
        Item::TableRef(id) => {
            if !shared.is_known_id(id) {
                return Err(HostError(format!(
                    "reference to external table {id}, which was never allocated"
                )));
            }
            Value::Table(ext.proxy(&ctx, ctx, id))
        }
        Item::Function(payload) => Value::Function(function::decode(ctx, ext, shared, payload, 0)?),
        Item::Opaque(_) | Item::InlineTable(_) => {
            return Err(HostError("value kind cannot be stored in a table".into()))
        }
    })
}

fn table_id<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    exec: &Execution<'gc, '_>,
    value: Value<'gc>,
) -> Result<u32, Error<'gc>> {
    ext.id_of(value)
        .ok_or_else(|| located_error(ctx, exec, "external table method called on another value"))
}

fn index<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    exec: Execution<'gc, '_>,
    mut stack: piccolo::Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let id = table_id(ctx, &ext, &exec, stack.get(0))?;
    let mut key = shared.key_buf.borrow_mut();
    let value = match encode_key(&ext, stack.get(1), &mut key) {
        Ok(Some(())) => get(ctx, &ext, shared, id, &key)?,
        // Reading with a key that cannot be stored finds nothing, as in plain Lua.
        _ => Value::Nil,
    };
    stack.replace(ctx, value);
    Ok(CallbackReturn::Return)
}

fn get<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    id: u32,
    key: &[u8],
) -> Result<Value<'gc>, HostError> {
    let mut value = shared.value_buf.borrow_mut();
    if shared.host.table_get(id, key, &mut value)? {
        decode_stored(ctx, ext, shared, &value)
    } else {
        Ok(Value::Nil)
    }
}

fn new_index<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    exec: Execution<'gc, '_>,
    stack: piccolo::Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let id = table_id(ctx, &ext, &exec, stack.get(0))?;
    let (key, value) = (stack.get(1), stack.get(2));
    Resolve::run(
        ctx,
        ext,
        shared,
        exec,
        stack,
        Action::Store { id, key, value },
        Value::Nil,
    )
}

/// `rawset(t, k, v)` on an external table writes the entry (a raw field on the proxy would
/// hide it and never be saved).
pub fn raw_set<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    exec: Execution<'gc, '_>,
    stack: piccolo::Stack<'gc, '_>,
    id: u32,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let (table, key, value) = (stack.get(0), stack.get(1), stack.get(2));
    let action = Action::Store { id, key, value };
    Resolve::run(ctx, ext, shared, exec, stack, action, table)
}

/// `rawget(t, k)` on an external table reads the entry.
pub fn raw_get<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    id: u32,
    key: Value<'gc>,
) -> Result<Value<'gc>, Error<'gc>> {
    let mut bytes = shared.key_buf.borrow_mut();
    match encode_key(ext, key, &mut bytes) {
        Ok(Some(())) => Ok(get(ctx, ext, shared, id, &bytes)?),
        _ => Ok(Value::Nil),
    }
}

/// A write that may involve functions, done once their upvalues are known.
#[derive(Collect, Clone, Copy)]
#[collect(no_drop)]
pub enum Action<'gc> {
    Store {
        id: u32,
        key: Value<'gc>,
        value: Value<'gc>,
    },
    Convert(Table<'gc>),
}

impl<'gc> Action<'gc> {
    fn roots(self) -> [Value<'gc>; 2] {
        match self {
            Action::Store { key, value, .. } => [key, value],
            Action::Convert(t) => [Value::Table(t), Value::Nil],
        }
    }

    fn perform(
        self,
        ctx: Context<'gc>,
        ext: &Ext<'gc>,
        shared: &Shared,
        exec: &Execution<'gc, '_>,
        upvalues: &UpvalueValues<'gc>,
    ) -> Result<(), Error<'gc>> {
        match self {
            Action::Store { id, key, value } => {
                store(ctx, ext, shared, exec, upvalues, id, key, value)
            }
            Action::Convert(t) => convert(ctx, ext, shared, exec, upvalues, t),
        }
    }
}

/// Runs an [`Action`], first reading (through [`function::reader`] closures run by the VM)
/// the upvalues of stored closures that are still open on a running thread.
#[derive(Collect)]
#[collect(no_drop)]
pub struct Resolve<'gc> {
    ext: Gc<'gc, Ext<'gc>>,
    #[collect(require_static)]
    shared: Rc<Shared>,
    action: Action<'gc>,
    /// What the callback returns once the action is done (nil: nothing useful).
    result: Value<'gc>,
    known: UpvalueValues<'gc>,
    reading: Option<Closure<'gc>>,
}

impl<'gc> Resolve<'gc> {
    pub fn run(
        ctx: Context<'gc>,
        ext: Gc<'gc, Ext<'gc>>,
        shared: &Rc<Shared>,
        exec: Execution<'gc, '_>,
        mut stack: piccolo::Stack<'gc, '_>,
        action: Action<'gc>,
        result: Value<'gc>,
    ) -> Result<CallbackReturn<'gc>, Error<'gc>> {
        stack.clear();
        let known = UpvalueValues::default();
        if first_unread(&ext, &action.roots(), &known).is_none() {
            action.perform(ctx, &ext, shared, &exec, &known)?;
            stack.push_back(result);
            return Ok(CallbackReturn::Return);
        }
        Ok(CallbackReturn::Sequence(BoxSequence::new(
            &ctx,
            Resolve {
                ext,
                shared: shared.clone(),
                action,
                result,
                known,
                reading: None,
            },
        )))
    }
}

impl<'gc> Sequence<'gc> for Resolve<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        exec: Execution<'gc, '_>,
        mut stack: piccolo::Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        if let Some(closure) = self.reading.take() {
            self.known.insert(closure, stack.drain(..).collect());
        }
        stack.clear();
        if let Some(closure) = first_unread(&self.ext, &self.action.roots(), &self.known) {
            self.reading = Some(closure);
            return Ok(SequencePoll::Call {
                function: Function::Closure(function::reader(ctx, closure)),
                is_tail: false,
            });
        }
        self.action
            .perform(ctx, &self.ext, &self.shared, &exec, &self.known)?;
        stack.push_back(self.result);
        Ok(SequencePoll::Return)
    }
}

/// The first closure reachable from `roots` whose upvalues are neither closed nor read yet.
fn first_unread<'gc>(
    ext: &Ext<'gc>,
    roots: &[Value<'gc>],
    known: &UpvalueValues<'gc>,
) -> Option<Closure<'gc>> {
    // The common case (scalars and external tables) walks nothing and allocates nothing.
    let walkable = |v: &Value<'gc>| {
        matches!(v, Value::Function(Function::Closure(_)))
            || (matches!(v, Value::Table(_)) && ext.id_of(*v).is_none())
    };
    if !roots.iter().any(walkable) {
        return None;
    }
    let mut seen = HashSet::new();
    let mut todo: Vec<Value<'gc>> = roots.to_vec();
    while let Some(v) = todo.pop() {
        match v {
            Value::Table(t) if ext.id_of(v).is_none() && seen.insert(table_ptr(t)) => {
                for (k, v) in t.iter() {
                    todo.push(k);
                    todo.push(v);
                }
            }
            Value::Function(Function::Closure(c))
                if seen.insert(Gc::as_ptr(c.into_inner()) as *const ()) =>
            {
                match known.get(c) {
                    Some(values) => todo.extend(values),
                    None => return Some(c),
                }
            }
            _ => {}
        }
    }
    None
}

/// `t[key] = value` on external table `id`: validates everything first, so a refused value
/// changes nothing.
#[allow(clippy::too_many_arguments)]
pub fn store<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    exec: &Execution<'gc, '_>,
    upvalues: &UpvalueValues<'gc>,
    id: u32,
    key: Value<'gc>,
    value: Value<'gc>,
) -> Result<(), Error<'gc>> {
    let mut key_bytes = shared.key_buf.borrow_mut();
    match encode_key(ext, key, &mut key_bytes) {
        Ok(Some(())) => {}
        Ok(None) => {
            let what = if key.is_nil() { "nil" } else { "NaN" };
            return Err(located_error(ctx, exec, &format!("index is {what}")));
        }
        Err(_) if matches!(key, Value::Table(_)) => {}
        Err(kind) => {
            return Err(located_error(
                ctx,
                exec,
                &format!("cannot use {kind} as an external table key"),
            ))
        }
    }
    shared.generation.set(shared.generation.get() + 1);
    let mut value_bytes = shared.value_buf.borrow_mut();
    value_bytes.clear();
    let key_is_plain_table = matches!(key, Value::Table(_)) && ext.id_of(key).is_none();
    let value_needs_plan = matches!(value, Value::Function(_))
        || (matches!(value, Value::Table(_)) && ext.id_of(value).is_none());
    if !key_is_plain_table && !value_needs_plan {
        // The common case: scalars and external tables encode directly.
        match value {
            Value::Nil => {
                shared.host.table_delete(id, &key_bytes)?;
                return Ok(());
            }
            Value::Thread(_) | Value::UserData(_) => {
                let what = article(value.type_name());
                return Err(located_error(ctx, exec, &refusal(&what)));
            }
            _ => Encoding::scalars(ctx, ext).value(value, &mut value_bytes),
        }
        shared.host.table_set(id, &key_bytes, &value_bytes)?;
        return Ok(());
    }
    // Plain tables and functions are checked whole before anything is written; then plain
    // tables are made external.
    let mut plan = StorePlan::new(ctx, upvalues);
    plan.visit(ext, value)
        .map_err(|e| located_error(ctx, exec, &e))?;
    if let Value::Table(t) = key {
        plan.visit_table(ext, t)
            .map_err(|e| located_error(ctx, exec, &e))?;
    }
    let (ids, names) = plan.commit(ctx, ext, shared)?;
    if let Value::Table(t) = key {
        key_bytes.clear();
        Writer(&mut key_bytes).table_ref(ids_of(ext, Some(&ids), t));
    }
    Encoding {
        ctx,
        ext,
        ids: Some(&ids),
        names: names.as_ref(),
        upvalues: Some(upvalues),
    }
    .value(value, &mut value_bytes);
    shared.host.table_set(id, &key_bytes, &value_bytes)?;
    Ok(())
}

/// Makes plain table `table` (and the plain tables it reaches) external, in place: the
/// same Lua object becomes the proxy, so references to it stay valid.
pub fn convert<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    exec: &Execution<'gc, '_>,
    upvalues: &UpvalueValues<'gc>,
    table: Table<'gc>,
) -> Result<(), Error<'gc>> {
    let mut plan = StorePlan::new(ctx, upvalues);
    plan.visit_table(ext, table)
        .map_err(|e| located_error(ctx, exec, &e))?;
    shared.generation.set(shared.generation.get() + 1);
    plan.commit(ctx, ext, shared)?;
    Ok(())
}

fn ids_of<'gc>(ext: &Ext<'gc>, ids: Option<&HashMap<*const (), u32>>, t: Table<'gc>) -> u32 {
    ext.id_of(Value::Table(t))
        .or_else(|| ids.and_then(|ids| ids.get(&table_ptr(t)).copied()))
        .expect("table visited by the plan")
}

fn table_ptr(t: Table<'_>) -> *const () {
    Gc::as_ptr(t.into_inner()) as *const ()
}

/// What encoding a stored value needs: ids of the tables being made external, and the
/// names of builtins when functions are involved.
struct Encoding<'a, 'gc> {
    ctx: Context<'gc>,
    ext: &'a Ext<'gc>,
    ids: Option<&'a HashMap<*const (), u32>>,
    names: Option<&'a BuiltinNames>,
    upvalues: Option<&'a UpvalueValues<'gc>>,
}

impl<'a, 'gc> Encoding<'a, 'gc> {
    /// For values that are scalars or external tables only.
    fn scalars(ctx: Context<'gc>, ext: &'a Ext<'gc>) -> Encoding<'a, 'gc> {
        Encoding {
            ctx,
            ext,
            ids: None,
            names: None,
            upvalues: None,
        }
    }

    fn value(&self, value: Value<'gc>, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        if write_scalar(&mut w, value) {
            return;
        }
        match value {
            Value::Table(t) => w.table_ref(ids_of(self.ext, self.ids, t)),
            Value::Function(f) => {
                let names = self.names.expect("functions were planned");
                let upvalues = self.upvalues.expect("functions were planned");
                let mut payload = Vec::new();
                function::encode(
                    self.ctx,
                    names,
                    upvalues,
                    f,
                    &|t| ids_of(self.ext, self.ids, t),
                    &mut payload,
                );
                w.function(&payload);
            }
            _ => unreachable!("scalars are written above; threads and userdata are refused"),
        }
    }
}

/// The plain tables reachable from a stored value, checked before anything is written.
struct StorePlan<'a, 'gc> {
    ctx: Context<'gc>,
    upvalues: &'a UpvalueValues<'gc>,
    tables: Vec<Table<'gc>>,
    seen: HashMap<*const (), usize>,
    /// Builtin names, collected when the first function is met.
    names: Option<BuiltinNames>,
    /// Closures being checked, outermost first (cycles between them are refused).
    functions: Vec<*const ()>,
}

impl<'a, 'gc> StorePlan<'a, 'gc> {
    fn new(ctx: Context<'gc>, upvalues: &'a UpvalueValues<'gc>) -> Self {
        StorePlan {
            ctx,
            upvalues,
            tables: Vec::new(),
            seen: HashMap::new(),
            names: None,
            functions: Vec::new(),
        }
    }

    fn visit(&mut self, ext: &Ext<'gc>, value: Value<'gc>) -> Result<(), String> {
        match value {
            Value::Table(t) => self.visit_table(ext, t),
            Value::Function(f) => {
                let ctx = self.ctx;
                let names = self.names.get_or_insert_with(|| BuiltinNames::collect(ctx));
                let captured = function::captured(ctx, names, self.upvalues, f, &self.functions)?;
                self.functions.push(function::identity(f));
                for v in captured {
                    self.visit(ext, v)?;
                }
                self.functions.pop();
                Ok(())
            }
            Value::Thread(_) => Err(refusal("a coroutine")),
            Value::UserData(_) => Err(refusal("a userdata")),
            Value::String(s) if u32::try_from(s.as_bytes().len()).is_err() => {
                Err("string too long to store in an external table".into())
            }
            _ => Ok(()),
        }
    }

    fn visit_table(&mut self, ext: &Ext<'gc>, table: Table<'gc>) -> Result<(), String> {
        if ext.id_of(Value::Table(table)).is_some() || self.seen.contains_key(&table_ptr(table)) {
            return Ok(());
        }
        if let Value::String(name) = ext.libraries.get_value(Value::Table(table)) {
            return Err(format!(
                "cannot store '{}' in an external table: it belongs to the running state \
                 (store the values you need instead)",
                String::from_utf8_lossy(name.as_bytes())
            ));
        }
        if table.metatable().is_some() {
            return Err("cannot store a table that has a metatable in an external table".into());
        }
        self.seen.insert(table_ptr(table), self.tables.len());
        self.tables.push(table);
        // Iterative over entries, recursive over nested tables; nesting depth is bounded by
        // the Lua heap (each level is a table), and we stop far before the native stack does.
        if self.tables.len() > 1_000_000 {
            return Err("too many nested tables in one assignment".into());
        }
        for (k, v) in table.iter() {
            match k {
                Value::Table(kt) => self.visit_table(ext, kt)?,
                Value::Function(_) | Value::Thread(_) | Value::UserData(_) => {
                    return Err(format!(
                        "cannot use {} as an external table key",
                        article(k.type_name())
                    ))
                }
                _ => {}
            }
            self.visit(ext, v)?;
        }
        Ok(())
    }

    /// Gives every planned table an id, writes its entries, then turns it into a proxy.
    #[allow(clippy::type_complexity)]
    fn commit(
        self,
        ctx: Context<'gc>,
        ext: &Ext<'gc>,
        shared: &Shared,
    ) -> Result<(HashMap<*const (), u32>, Option<BuiltinNames>), HostError> {
        let mut ids = HashMap::with_capacity(self.tables.len());
        for &t in &self.tables {
            ids.insert(table_ptr(t), shared.allocate_id()?);
        }
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for &t in &self.tables {
            let id = ids[&table_ptr(t)];
            for (k, v) in t.iter() {
                key.clear();
                match k {
                    Value::Table(kt) => Writer(&mut key).table_ref(ids_of(ext, Some(&ids), kt)),
                    _ => {
                        encode_key(ext, k, &mut key).expect("plain table keys are valid");
                    }
                }
                value.clear();
                Encoding {
                    ctx,
                    ext,
                    ids: Some(&ids),
                    names: self.names.as_ref(),
                    upvalues: Some(self.upvalues),
                }
                .value(v, &mut value);
                shared.charge();
                shared.host.table_set(id, &key, &value)?;
            }
        }
        for &t in &self.tables {
            ext.attach(ctx, t, ids[&table_ptr(t)]);
        }
        Ok((ids, self.names))
    }
}

fn refusal(what: &str) -> String {
    format!("cannot store {what} in an external table")
}

fn article(type_name: &str) -> String {
    match type_name {
        "userdata" => "a userdata".into(),
        "thread" => "a coroutine".into(),
        other => format!("a {other}"),
    }
}

fn length<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    exec: Execution<'gc, '_>,
    mut stack: piccolo::Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let Value::Table(table) = stack.get(0) else {
        return Err(located_error(ctx, &exec, "bad external table"));
    };
    let id = table_id(ctx, &ext, &exec, stack.get(0))?;
    let n = border(shared, id, ext.len_hint(table))?;
    ext.set_len_hint(ctx, table, n);
    stack.replace(ctx, Value::Integer(n));
    Ok(CallbackReturn::Return)
}

fn has_index(shared: &Shared, id: u32, i: i64) -> Result<bool, HostError> {
    shared.charge();
    let mut key = Vec::with_capacity(9);
    Writer(&mut key).integer(i);
    shared.host.table_has(id, &key)
}

/// A border of table `id` (`t[n] ~= nil and t[n+1] == nil`, or 0), searched from `hint` so
/// that appending in a loop costs two host calls per `#t`. Every loop halves or doubles an
/// interval of `i64`, so it makes at most about 190 host calls.
fn border(shared: &Shared, id: u32, hint: i64) -> Result<i64, HostError> {
    let hint = hint.max(0);
    if hint > 0 && !has_index(shared, id, hint)? {
        // Shrunk: binary search in (0, hint) where 0 counts as present.
        let (mut lo, mut hi) = (0i64, hint);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if has_index(shared, id, mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return Ok(lo);
    }
    // `t[maxinteger]` is a border: there is no next index to look at.
    if hint == i64::MAX || !has_index(shared, id, hint + 1)? {
        return Ok(hint);
    }
    // Grown: double until absent, then binary search.
    let (mut lo, mut hi) = (hint + 1, (hint + 1).saturating_mul(2));
    while has_index(shared, id, hi)? {
        lo = hi;
        if hi == i64::MAX {
            return Ok(hi);
        }
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if has_index(shared, id, mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// One page of a `pairs` traversal, kept in the iterator closure.
struct PageCursor {
    id: u32,
    /// Entries consumed from the host's order so far.
    cursor: u32,
    page: Vec<u8>,
    pos: usize,
    generation: u64,
    done: bool,
}

fn pairs<'gc>(
    ctx: Context<'gc>,
    ext: Gc<'gc, Ext<'gc>>,
    shared: &Rc<Shared>,
    exec: Execution<'gc, '_>,
    mut stack: piccolo::Stack<'gc, '_>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let table = stack.get(0);
    let id = table_id(ctx, &ext, &exec, table)?;
    let state = Rc::new(RefCell::new(PageCursor {
        id,
        cursor: 0,
        page: Vec::new(),
        pos: 0,
        generation: 0,
        done: false,
    }));
    let shared = shared.clone();
    let iter = Callback::from_fn_with(&ctx, ext, move |ext, ctx, _, mut stack| {
        match next_entry(ctx, ext, &shared, &mut state.borrow_mut())? {
            Some((k, v)) => stack.replace(ctx, (k, v)),
            None => stack.replace(ctx, Value::Nil),
        }
        Ok(CallbackReturn::Return)
    });
    stack.replace(
        ctx,
        (Value::Function(Function::Callback(iter)), table, Value::Nil),
    );
    Ok(CallbackReturn::Return)
}

fn next_entry<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    state: &mut PageCursor,
) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>> {
    loop {
        if state.done {
            return Ok(None);
        }
        if state.pos >= state.page.len() {
            // Pages of deleted entries are skipped in this loop: each fetch costs fuel.
            shared.charge();
            shared
                .host
                .table_page(state.id, state.cursor, &mut state.page)?;
            state.pos = 0;
            state.generation = shared.generation.get();
            if state.page.is_empty() {
                state.done = true;
                return Ok(None);
            }
        }
        let mut reader = Reader::new(&state.page[state.pos..]);
        let key_start = state.pos;
        reader
            .skip_value(0)
            .map_err(|e| HostError(format!("bad key in page: {e}")))?;
        let key_end = key_start + reader.position();
        reader
            .skip_value(0)
            .map_err(|e| HostError(format!("bad value in page: {e}")))?;
        let value_end = key_start + reader.position();
        state.pos = value_end;
        state.cursor += 1;
        let key_bytes = &state.page[key_start..key_end];
        codec::validate_key(key_bytes).map_err(|e| HostError(e.to_string()))?;
        let key = decode_stored(ctx, ext, shared, key_bytes)?;
        let value = if state.generation == shared.generation.get() {
            decode_stored(ctx, ext, shared, &state.page[key_end..value_end])?
        } else {
            // This VM wrote since the page was fetched: read the current value.
            shared.charge();
            get(ctx, ext, shared, state.id, key_bytes)?
        };
        if !value.is_nil() {
            return Ok(Some((key, value)));
        }
    }
}
