//! External tables: the VM's table kind whose entries live in the [`Host`].
//!
//! [`Store`] is the VM's [`External`] storage: it encodes keys and values with the
//! [`codec`](crate::codec), stores plain tables by reference (they become external in place,
//! cycles kept, everything checked before anything is written), keeps a border hint per
//! table so appending in a loop costs two host calls per `#t`, and a few cursors per table
//! (found by the key `next` returned last) so a traversal pages through the host instead of
//! asking for every key, however many traversals interleave.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use vm::external::{border, External, Running, Stored};
use vm::function::Upval;
use vm::interp::Error;
use vm::lib::{at, bug, cell_mut, cell_ref};
use vm::table::Table;
use vm::{Ctx, Value};

use crate::codec::{self, Item, Reader, Writer};
use crate::function;
use crate::host::{Host, HostError};

/// Id of `_io`: reserved, never allocated by the counter and never persisted.
pub const IO_TABLE_ID: u32 = 0;
/// The first id the counter hands out.
pub const FIRST_TABLE_ID: u32 = 1;
/// What scripts get from `getmetatable` on an external table.
pub const PROTECTED_METATABLE: &str = vm::external::PROTECTED_NAME;
/// Output is buffered and handed to the host in pieces of about this size.
pub const OUTPUT_FLUSH_BYTES: usize = 8 * 1024;
/// Errors from the host start with this, so the run ends with error kind 5.
pub const HOST_ERROR_PREFIX: &str = "host error: ";

/// Where a `next` traversal of one table stands in the host's order.
struct Cursor {
    /// Encoding of the key `next` returned last (empty before the first).
    last_key: Vec<u8>,
    page: Vec<u8>,
    offset: usize,
    generation: u64,
    /// Bytes to ask for in the next page: small at first, so that a `next` that starts a
    /// cursor (`next(t)` as an emptiness test) costs little, doubling up to `MAX_PAGE_BYTES`.
    page_limit: usize,
}

const FIRST_PAGE_BYTES: usize = 256;
const MAX_PAGE_BYTES: usize = 16 * 1024;
/// Traversals of one table that keep their place at once (nested loops over one table).
const CURSORS_PER_TABLE: usize = 4;

impl Cursor {
    fn after(last_key: Vec<u8>) -> Cursor {
        Cursor {
            last_key,
            page: Vec::new(),
            offset: 0,
            generation: 0,
            page_limit: FIRST_PAGE_BYTES,
        }
    }
}

/// The engine's storage for external tables, shared by the VM and the engine.
pub struct Store {
    pub host: Rc<dyn Host>,
    pub next_id: Cell<u32>,
    pub memory_table_id: Cell<u32>,
    /// Bumped by every write, so a page of entries knows when its values may be stale.
    pub generation: Cell<u64>,
    output: RefCell<Vec<u8>>,
    len_hints: RefCell<HashMap<u32, i64>>,
    /// Per table, the cursors of recent traversals, the most recent last.
    cursors: RefCell<HashMap<u32, Vec<Cursor>>>,
    /// Upvalue cells already persisted, by address (their holders keep them alive).
    cell_ids: RefCell<HashMap<usize, u32>>,
    /// Cells being written, so a closure that captures itself ends.
    writing: RefCell<HashSet<u32>>,
    /// Encoding buffers (key, value) reused by `get` and `set`: a nested call (a stored
    /// function that reaches a cell) finds them borrowed and uses its own.
    buffers: RefCell<(Vec<u8>, Vec<u8>)>,
    /// How many userdata hold each host object: normally one, two while a dead one awaits
    /// its sweep after the object came back.
    objects: RefCell<HashMap<u32, u32>>,
}

impl Store {
    pub fn new(host: Rc<dyn Host>) -> Rc<Store> {
        Rc::new(Store {
            host,
            next_id: Cell::new(FIRST_TABLE_ID),
            memory_table_id: Cell::new(0),
            generation: Cell::new(0),
            output: RefCell::new(Vec::new()),
            len_hints: RefCell::new(HashMap::new()),
            cursors: RefCell::new(HashMap::new()),
            cell_ids: RefCell::new(HashMap::new()),
            writing: RefCell::new(HashSet::new()),
            buffers: RefCell::new((Vec::new(), Vec::new())),
            objects: RefCell::new(HashMap::new()),
        })
    }

    /// The store of the state `ctx` belongs to.
    pub fn of<'gc>(ctx: Ctx<'gc>) -> &'gc dyn External {
        ctx.external_storage().unwrap_or_else(|| bug()) // the engine gives every state its store
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

    /// Records that table `id` changed outside a run (through the ABI).
    pub fn touched(&self, id: u32) {
        self.generation.set(self.generation.get() + 1);
        cell_mut(&self.len_hints).remove(&id);
    }

    /// A userdata for host object `id` was made.
    pub fn hold_object(&self, id: u32) {
        *cell_mut(&self.objects).entry(id).or_default() += 1;
    }

    /// A userdata for host object `id` was freed; after the last, the host may forget it.
    pub fn release_object(&self, id: u32) {
        let mut objects = cell_mut(&self.objects);
        let Some(n) = objects.get_mut(&id) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            objects.remove(&id);
            drop(objects);
            self.host.release_object(id);
        }
    }

    pub fn write_output(&self, bytes: &[u8]) {
        let mut out = cell_mut(&self.output);
        out.extend_from_slice(bytes);
        if out.len() >= OUTPUT_FLUSH_BYTES {
            self.host.write_output(&out);
            out.clear();
        }
    }

    pub fn flush_output(&self) {
        let mut out = cell_mut(&self.output);
        if !out.is_empty() {
            self.host.write_output(&out);
            out.clear();
        }
    }

    /// Makes the plain table `t` (and the plain tables it reaches) external; its id.
    pub fn adopt<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        t: Table<'gc>,
    ) -> Result<u32, Error<'gc>> {
        let mut plan = Plan::default();
        plan.visit(ctx, running, Value::Table(t))
            .map_err(Error::runtime)?;
        let ids = plan.commit(ctx, running, self)?;
        // commit gave every table of the plan an id.
        Ok(*ids.get(&table_ptr(t)).unwrap_or_else(|| bug()))
    }

    /// Encodes a value whose tables are all external by now; functions become payloads.
    fn encode_value<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        value: Value<'gc>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error<'gc>> {
        if encode_plain(Stored::Value(value), out) {
            return Ok(());
        }
        let Value::Function(f) = value else {
            return Err(Error::runtime(refusal(value)));
        };
        let mut payload = Vec::new();
        function::encode(
            ctx,
            running,
            f,
            &mut |u, v| self.cell_id(ctx, running, u, v),
            &mut payload,
        )?;
        out.clear();
        Writer(out).function(&payload);
        Ok(())
    }

    /// The id of an upvalue cell, writing its current value (once per store).
    fn cell_id<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        u: Upval<'gc>,
        value: Value<'gc>,
    ) -> Result<u32, Error<'gc>> {
        let known = cell_ref(&self.cell_ids).get(&u.addr()).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let id = self.allocate_id()?;
                function::hold(ctx, function::STORED, id, u);
                cell_mut(&self.cell_ids).insert(u.addr(), id);
                id
            }
        };
        if !cell_mut(&self.writing).insert(id) {
            return Ok(id);
        }
        let mut vb = Vec::new();
        let written = self
            .encode_value(ctx, running, value, &mut vb)
            .and_then(|()| Ok(self.host.table_set(id, &CELL_KEY, &vb)?));
        cell_mut(&self.writing).remove(&id);
        written.map(|()| id)
    }

    /// Forgets upvalue cell `id`, which no stored function refers to any more (the host
    /// found that and dropped its table). Storing a function over a variable it held again
    /// gives that variable a new cell.
    pub fn release_cell(&self, ctx: Ctx<'_>, id: u32) {
        let mut ids = cell_mut(&self.cell_ids);
        for cell in function::release(ctx, id) {
            if ids.get(&cell.addr()) == Some(&id) {
                ids.remove(&cell.addr());
            }
        }
    }

    /// The upvalue cell `id`, restored from the host the first time.
    fn cell<'gc>(&self, ctx: Ctx<'gc>, id: u32) -> Result<Upval<'gc>, Error<'gc>> {
        if let Some(u) = function::held(ctx, id) {
            return Ok(u);
        }
        if !self.is_known_id(id) {
            return Err(host_error(&format!(
                "stored function refers to cell {id}, which was never allocated"
            )));
        }
        let u = function::new_cell(ctx, id);
        cell_mut(&self.cell_ids).insert(u.addr(), id);
        let mut out = Vec::new();
        if self.host.table_get(id, &CELL_KEY, &mut out)? {
            let v = self.decode(ctx, &out)?;
            u.close_with(ctx.mc, v);
        }
        Ok(u)
    }

    fn decode<'gc>(&self, ctx: Ctx<'gc>, bytes: &[u8]) -> Result<Value<'gc>, Error<'gc>> {
        // The common cases first: an integer is exactly its tag and eight bytes, a string its
        // tag, its length and that many bytes.
        match bytes {
            [codec::TAG_INTEGER, rest @ ..] => {
                if let Ok(le) = <[u8; 8]>::try_from(rest) {
                    return Ok(Value::Integer(i64::from_le_bytes(le)));
                }
            }
            [codec::TAG_STRING, a, b, c, d, rest @ ..]
                if u32::from_le_bytes([*a, *b, *c, *d]) as usize == rest.len() =>
            {
                return Ok(ctx.str_value(rest));
            }
            _ => {}
        }
        let mut reader = Reader::new(bytes);
        let item = reader.item().map_err(|e| host_error(&e.to_string()))?;
        if !reader.is_empty() {
            return Err(host_error("stored value has trailing bytes"));
        }
        Ok(match item {
            Item::Nil => Value::Nil,
            Item::Boolean(b) => Value::Boolean(b),
            Item::Integer(i) => Value::Integer(i),
            Item::Float(f) => Value::Float(f),
            Item::String(s) => ctx.str_value(s),
            Item::TableRef(id) if self.is_known_id(id) => Value::Table(ctx.external_table(id)),
            Item::TableRef(id) => {
                return Err(host_error(&format!(
                    "reference to external table {id}, which was never allocated"
                )))
            }
            Item::Function(payload) => {
                function::decode(ctx, payload, &mut |id| self.cell(ctx, id))?
            }
            Item::Opaque(_)
            | Item::InlineTable(_)
            | Item::Handle(_)
            | Item::HostFunction(_)
            | Item::HostObject(_) => {
                return Err(host_error("value kind cannot be stored in a table"))
            }
        })
    }

    fn has_index(&self, id: u32, i: i64) -> Result<bool, HostError> {
        let mut key = Vec::with_capacity(9);
        Writer(&mut key).integer(i);
        self.host.table_has(id, &key)
    }

    /// The entry at the cursor of table `id`, moving it on; `None` at the end.
    fn advance<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        cursor: &mut Cursor,
    ) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>> {
        loop {
            if cursor.offset >= cursor.page.len() {
                let known = self
                    .host
                    .table_page(id, &cursor.last_key, cursor.page_limit, &mut cursor.page)
                    .map_err(|e| host_error(&e.0))?;
                if !known {
                    return Err(Error::runtime("invalid key to 'next'"));
                }
                ctx.charge_fuel(1 + cursor.page.len() as i64 / 64);
                cursor.page_limit = (cursor.page_limit * 2).min(MAX_PAGE_BYTES);
                cursor.offset = 0;
                cursor.generation = self.generation.get();
                if cursor.page.is_empty() {
                    return Ok(None);
                }
            }
            let start = cursor.offset;
            let mut reader = Reader::new(at(&cursor.page, start..));
            let bad = |e: codec::CodecError| host_error(&format!("bad entry in page: {e}"));
            reader.skip_value(0).map_err(bad)?;
            let key_end = start + reader.position();
            reader.skip_value(0).map_err(bad)?;
            let value_end = start + reader.position();
            cursor.offset = value_end;
            let key_bytes = at(&cursor.page, start..key_end);
            codec::validate_key(key_bytes).map_err(|e| host_error(&e.to_string()))?;
            let key = self.decode(ctx, key_bytes)?;
            let value = if cursor.generation == self.generation.get() {
                self.decode(ctx, at(&cursor.page, key_end..value_end))?
            } else {
                // Written since the page was fetched: read the current value.
                self.get(ctx, id, Stored::Value(key))?
            };
            cursor.last_key.clear();
            cursor.last_key.extend_from_slice(key_bytes);
            if !value.is_nil() {
                return Ok(Some((key, value)));
            }
        }
    }

    /// Runs `f` with the reused encoding buffers, or fresh ones when a nested call holds them.
    #[inline]
    fn with_buffers<R>(&self, f: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> R) -> R {
        let mut fresh = None;
        let mut held = self.buffers.try_borrow_mut();
        // One call of `f`, which can then be inlined; nothing to drop in the common case.
        let (kb, vb) = match &mut held {
            Ok(buffers) => &mut **buffers,
            Err(_) => fresh.insert((Vec::new(), Vec::new())),
        };
        f(kb, vb)
    }

    fn get_with<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
        kb: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Value<'gc>, Error<'gc>> {
        match encode_key(key, kb) {
            Ok(Some(())) => {}
            // A plain table or a function is never a key of an external table.
            Ok(None) | Err(_) => return Ok(Value::Nil),
        }
        if !self.host.table_get(id, kb, out)? {
            return Ok(Value::Nil);
        }
        self.decode(ctx, out)
            .map_err(|e| name_old_format(e, key.value(ctx)))
    }

    #[allow(clippy::too_many_arguments)]
    fn set_with<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
        value: Stored<'_, 'gc>,
        kb: &mut Vec<u8>,
        vb: &mut Vec<u8>,
    ) -> Result<(), Error<'gc>> {
        let key_is_plain_table = encode_key(key, kb).map_err(Error::runtime)?.is_none();
        self.generation.set(self.generation.get() + 1);
        // A plain table as the key is made external first (the plan below).
        if !key_is_plain_table && encode_plain(value, vb) {
            if matches!(value, Stored::Value(Value::Nil)) {
                self.host.table_delete(id, kb)?;
            } else {
                self.host.table_set(id, kb, vb)?;
            }
            return Ok(());
        }
        let value = value.value(ctx);
        let mut plan = Plan::default();
        plan.visit(ctx, running, value).map_err(Error::runtime)?;
        if let Stored::Value(key) = key {
            plan.visit(ctx, running, key).map_err(Error::runtime)?;
        }
        plan.commit(ctx, running, self)?;
        // Tables are external now.
        encode_key(key, kb).map_err(Error::runtime)?;
        self.encode_value(ctx, running, value, vb)?;
        self.host.table_set(id, kb, vb)?;
        Ok(())
    }
}

/// The key under which a cell table holds its value: integer 1.
const CELL_KEY: [u8; 9] = [codec::TAG_INTEGER, 1, 0, 0, 0, 0, 0, 0, 0];

fn host_error<'gc>(message: &str) -> Error<'gc> {
    Error::runtime(format!("{HOST_ERROR_PREFIX}{message}"))
}

impl From<HostError> for Error<'_> {
    fn from(e: HostError) -> Self {
        host_error(&e.0)
    }
}

/// Encodes a key; `Ok(None)` for a plain table (it must be made external first).
fn encode_key(key: Stored<'_, '_>, out: &mut Vec<u8>) -> Result<Option<()>, String> {
    out.clear();
    let mut w = Writer(out);
    let key = match key {
        Stored::Value(v) => v,
        Stored::Str(bytes) => {
            w.string(bytes);
            return Ok(Some(()));
        }
    };
    match key {
        Value::Boolean(b) => w.boolean(b),
        Value::Integer(i) => w.integer(i),
        Value::Float(f) => w.float_key(f),
        Value::String(s) => w.string(s.as_bytes()),
        Value::Table(t) => match t.external_id() {
            Some(id) => w.table_ref(id),
            None => return Ok(None),
        },
        other => {
            return Err(format!(
                "cannot use {} as an external table key",
                article(other.type_name())
            ))
        }
    }
    Ok(Some(()))
}

/// Encodes a value that is a scalar, a string's bytes or an external table; false for anything
/// else.
fn encode_plain(value: Stored<'_, '_>, out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut w = Writer(out);
    let value = match value {
        Stored::Value(v) => v,
        Stored::Str(bytes) => {
            w.string(bytes);
            return true;
        }
    };
    match value {
        Value::Nil => w.nil(),
        Value::Boolean(b) => w.boolean(b),
        Value::Integer(i) => w.integer(i),
        Value::Float(f) => w.float(f),
        Value::String(s) => w.string(s.as_bytes()),
        Value::Table(t) => match t.external_id() {
            Some(id) => w.table_ref(id),
            None => return false,
        },
        _ => return false,
    }
    true
}

/// Fuel a host call costs when one Lua operation makes many (`#t`, storing a big table): a
/// call into the host takes about as long as a dozen instructions or more.
const HOST_CALL_FUEL: i64 = 16;

/// The globals and the library tables stay in the state: made external in place, they would
/// lose their entries (and every builtin with them).
fn builtin_table<'gc>(ctx: Ctx<'gc>, t: Table<'gc>) -> Option<String> {
    if t == ctx.globals() {
        return Some("the globals table".into());
    }
    let Value::Table(loaded) = ctx.loaded_table() else {
        return None;
    };
    if t == loaded {
        return Some("the library table 'package.loaded'".into());
    }
    let mut key = Value::Nil;
    while let Ok(Some((k, v))) = loaded.next(key) {
        key = k;
        if let (Value::String(name), Value::Table(lib)) = (k, v) {
            if lib == t {
                let name = String::from_utf8_lossy(name.as_bytes());
                return Some(format!("the library table '{name}'"));
            }
        }
    }
    None
}

/// A function stored in the old format says which key held it: the rest of the state loads
/// as before. Out of line, off every read's path.
#[cold]
#[inline(never)]
fn name_old_format<'gc>(e: Error<'gc>, key: Value<'gc>) -> Error<'gc> {
    match e {
        Error::Runtime(m) if m == function::OLD_FORMAT => {
            Error::runtime(format!("{}: {m}", describe_key(key)))
        }
        other => other,
    }
}

fn describe_key(key: Value<'_>) -> String {
    match key {
        Value::String(s) => format!("key '{}'", String::from_utf8_lossy(s.as_bytes())),
        Value::Integer(i) => format!("key {i}"),
        Value::Float(f) => {
            // As Lua writes it (`1e+100`, not Rust's hundred digits).
            let mut text = b"key ".to_vec();
            vm::number::write_float(&mut text, f);
            String::from_utf8_lossy(&text).into_owned()
        }
        Value::Boolean(b) => format!("key {b}"),
        _ => "a table key".into(),
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "userdata" => "a userdata".into(),
        "thread" => "a coroutine".into(),
        other => format!("a {other}"),
    }
}

fn refusal(value: Value<'_>) -> String {
    format!(
        "cannot store {} in an external table",
        article(value.type_name())
    )
}

fn table_ptr(t: Table<'_>) -> usize {
    Value::Table(t).addr().unwrap_or_else(|| bug()) // tables have addresses
}

/// The plain tables a stored value reaches, checked before anything is written.
#[derive(Default)]
struct Plan<'gc> {
    tables: Vec<Table<'gc>>,
    seen: HashMap<usize, usize>,
    functions: HashSet<usize>,
}

impl<'gc> Plan<'gc> {
    fn visit(
        &mut self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        value: Value<'gc>,
    ) -> Result<(), String> {
        // Iterative: a long chain of nested tables must not exhaust the native stack.
        let mut pending = vec![value];
        while let Some(v) = pending.pop() {
            match v {
                Value::Table(t) if t.external_id().is_none() => {
                    if self.seen.contains_key(&table_ptr(t)) {
                        continue;
                    }
                    // The globals first: they have a (protected) metatable.
                    if let Some(what) = builtin_table(ctx, t) {
                        return Err(format!("cannot store {what} in an external table"));
                    }
                    if t.metatable().is_some() {
                        return Err(
                            "cannot store a table that has a metatable in an external table".into(),
                        );
                    }
                    self.seen.insert(table_ptr(t), self.tables.len());
                    self.tables.push(t);
                    let mut key = Value::Nil;
                    while let Ok(Some((k, v))) = t.next(key) {
                        key = k;
                        if matches!(
                            k,
                            Value::Function(_)
                                | Value::Thread(_)
                                | Value::UserData(_)
                                | Value::LightUserData(_)
                        ) {
                            return Err(format!(
                                "cannot use {} as an external table key",
                                article(k.type_name())
                            ));
                        }
                        pending.push(k);
                        pending.push(v);
                    }
                }
                Value::Function(f) => {
                    let mut found = Vec::new();
                    function::check(ctx, running, f, &mut self.functions, &mut found)?;
                    pending.extend(found.into_iter().map(Value::Table));
                }
                Value::String(s) if u32::try_from(s.len()).is_err() => {
                    return Err("string too long to store in an external table".into())
                }
                Value::Thread(_) | Value::UserData(_) | Value::LightUserData(_) => {
                    return Err(refusal(v))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Gives every planned table an id, makes it external, then writes its entries.
    fn commit(
        self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        store: &Store,
    ) -> Result<HashMap<usize, u32>, Error<'gc>> {
        let mut ids = HashMap::with_capacity(self.tables.len());
        let mut contents = Vec::with_capacity(self.tables.len());
        for &t in &self.tables {
            let id = store.allocate_id()?;
            ids.insert(table_ptr(t), id);
            let mut entries = Vec::new();
            let mut key = Value::Nil;
            while let Ok(Some((k, v))) = t.next(key) {
                entries.push((k, v));
                key = k;
            }
            contents.push((id, entries));
        }
        for &t in &self.tables {
            let id = *ids.get(&table_ptr(t)).unwrap_or_else(|| bug());
            if !ctx.make_external(t, id) {
                bug() // a fresh id and a plain table
            }
        }
        store.generation.set(store.generation.get() + 1);
        let (mut kb, mut vb) = (Vec::new(), Vec::new());
        for (id, entries) in contents {
            // One host call per entry: storing a big table counts against the run's budget.
            ctx.charge_fuel(entries.len() as i64 * HOST_CALL_FUEL);
            for (k, v) in entries {
                store.encode_value(ctx, running, k, &mut kb)?;
                store.encode_value(ctx, running, v, &mut vb)?;
                store.host.table_set(id, &kb, &vb)?;
            }
        }
        Ok(ids)
    }
}

impl External for Store {
    fn get<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
    ) -> Result<Value<'gc>, Error<'gc>> {
        self.with_buffers(|kb, out| self.get_with(ctx, id, key, kb, out))
    }

    fn set<'gc>(
        &self,
        ctx: Ctx<'gc>,
        running: &Running<'_, 'gc>,
        id: u32,
        key: Stored<'_, 'gc>,
        value: Stored<'_, 'gc>,
    ) -> Result<(), Error<'gc>> {
        self.with_buffers(|kb, vb| self.set_with(ctx, running, id, key, value, kb, vb))
    }

    fn next<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Value<'gc>,
    ) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>> {
        let mut key_bytes = Vec::new();
        if !key.is_nil() && !matches!(encode_key(Stored::Value(key), &mut key_bytes), Ok(Some(())))
        {
            return Err(Error::runtime("invalid key to 'next'"));
        }
        let mut cursors = cell_mut(&self.cursors);
        let recent = cursors.entry(id).or_default();
        let found = recent
            .iter()
            .rposition(|c| !key.is_nil() && c.last_key == key_bytes);
        let mut cursor = match found {
            Some(i) => recent.remove(i),
            None => Cursor::after(key_bytes),
        };
        let entry = self.advance(ctx, id, &mut cursor)?;
        if entry.is_some() {
            if recent.len() == CURSORS_PER_TABLE {
                recent.remove(0);
            }
            recent.push(cursor);
        } else if recent.is_empty() {
            cursors.remove(&id);
        }
        Ok(entry)
    }

    fn length<'gc>(&self, ctx: Ctx<'gc>, id: u32) -> Result<i64, Error<'gc>> {
        let hint = cell_ref(&self.len_hints).get(&id).copied().unwrap_or(0);
        let (n, probes) = border(hint, |i| self.has_index(id, i))?;
        ctx.charge_fuel(probes as i64 * HOST_CALL_FUEL);
        cell_mut(&self.len_hints).insert(id, n);
        Ok(n)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
