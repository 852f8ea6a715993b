//! External tables against an in-memory storage: scripts see plain tables while the
//! entries stay outside the arena.

use core::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use lua_persist_vm::external::{self, border, External};
use lua_persist_vm::interp::Error;
use lua_persist_vm::state::Ctx;
use lua_persist_vm::value::Value;
use lua_persist_vm::{Host, Lua, Step};

/// A stored key or value: scalars by value, tables by id.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Stored {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    Table(u32),
}

/// Keys ordered for the index (floats by bits: keys are never NaN).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KeyBits {
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(Vec<u8>),
    Table(u32),
}

impl Stored {
    fn bits(&self) -> KeyBits {
        match self {
            Stored::Bool(b) => KeyBits::Bool(*b),
            Stored::Int(i) => KeyBits::Int(*i),
            Stored::Float(f) => KeyBits::Float(f.to_bits()),
            Stored::Str(s) => KeyBits::Str(s.clone()),
            Stored::Table(id) => KeyBits::Table(*id),
        }
    }
}

/// One table: entries in insertion order and an index by key. A deleted entry stays as a
/// hole with its key indexed, so `next` from it still works during a traversal.
#[derive(Default)]
struct Entries {
    order: Vec<Option<(Stored, Stored)>>,
    index: BTreeMap<KeyBits, usize>,
}

#[derive(Default)]
struct Memory {
    tables: RefCell<BTreeMap<u32, Entries>>,
    next_id: Cell<u32>,
    /// Host calls made, to check that `#` stays bounded.
    calls: Cell<u64>,
}

impl Memory {
    fn encode<'gc>(&self, ctx: Ctx<'gc>, v: Value<'gc>) -> Result<Option<Stored>, Error<'gc>> {
        Ok(Some(match v {
            Value::Nil => return Ok(None),
            Value::Boolean(b) => Stored::Bool(b),
            Value::Integer(i) => Stored::Int(i),
            Value::Float(f) => Stored::Float(f),
            Value::String(s) => Stored::Str(s.as_bytes().to_vec()),
            Value::Table(t) => match t.external_id() {
                Some(id) => Stored::Table(id),
                None => Stored::Table(self.adopt(ctx, t)?),
            },
            other => {
                return Err(Error::runtime(std::format!(
                    "cannot store a {} in an external table",
                    other.type_name()
                )))
            }
        }))
    }

    /// Stores a plain table by reference: its entries move here and it becomes external.
    fn adopt<'gc>(
        &self,
        ctx: Ctx<'gc>,
        t: lua_persist_vm::table::Table<'gc>,
    ) -> Result<u32, Error<'gc>> {
        if t.metatable().is_some() {
            return Err(Error::runtime("cannot store a table with a metatable"));
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.tables.borrow_mut().insert(id, Entries::default());
        let mut entries = Vec::new();
        let mut key = Value::Nil;
        while let Ok(Some((k, v))) = t.next(key) {
            entries.push((k, v));
            key = k;
        }
        assert!(ctx.make_external(t, id));
        for (k, v) in entries {
            let k = self.encode(ctx, k)?.expect("keys are not nil");
            let v = self.encode(ctx, v)?.expect("entries are not nil");
            self.put(id, k, Some(v));
        }
        Ok(id)
    }

    fn decode<'gc>(&self, ctx: Ctx<'gc>, s: &Stored) -> Value<'gc> {
        match s {
            Stored::Bool(b) => Value::Boolean(*b),
            Stored::Int(i) => Value::Integer(*i),
            Stored::Float(f) => Value::Float(*f),
            Stored::Str(b) => ctx.str_value(b),
            Stored::Table(id) => Value::Table(ctx.external_table(*id)),
        }
    }

    fn put(&self, id: u32, k: Stored, v: Option<Stored>) {
        let mut tables = self.tables.borrow_mut();
        let t = tables.entry(id).or_default();
        let bits = k.bits();
        match (t.index.get(&bits).copied(), v) {
            (Some(i), Some(v)) => t.order[i] = Some((k, v)),
            (Some(i), None) => t.order[i] = None,
            (None, Some(v)) => {
                t.index.insert(bits, t.order.len());
                t.order.push(Some((k, v)));
            }
            (None, None) => {}
        }
    }

    fn lookup(&self, id: u32, k: &Stored) -> Option<Stored> {
        self.calls.set(self.calls.get() + 1);
        let tables = self.tables.borrow();
        let t = tables.get(&id)?;
        let i = *t.index.get(&k.bits())?;
        t.order[i].as_ref().map(|(_, v)| v.clone())
    }
}

struct Shared(Rc<Memory>);

impl External for Shared {
    fn get<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: external::Stored<'_, 'gc>,
    ) -> Result<Value<'gc>, Error<'gc>> {
        let Some(k) = self.0.encode(ctx, key.value(ctx))? else {
            return Ok(Value::Nil);
        };
        Ok(match self.0.lookup(id, &k) {
            Some(v) => self.0.decode(ctx, &v),
            None => Value::Nil,
        })
    }

    fn set<'gc>(
        &self,
        ctx: Ctx<'gc>,
        _running: &lua_persist_vm::external::Running<'_, 'gc>,
        id: u32,
        key: external::Stored<'_, 'gc>,
        value: external::Stored<'_, 'gc>,
    ) -> Result<(), Error<'gc>> {
        let k = self
            .0
            .encode(ctx, key.value(ctx))?
            .expect("keys are not nil");
        let v = self.0.encode(ctx, value.value(ctx))?;
        self.0.put(id, k, v);
        Ok(())
    }

    fn next<'gc>(
        &self,
        ctx: Ctx<'gc>,
        id: u32,
        key: Value<'gc>,
    ) -> Result<Option<(Value<'gc>, Value<'gc>)>, Error<'gc>> {
        let key = self.0.encode(ctx, key)?;
        let found = {
            let mut tables = self.0.tables.borrow_mut();
            let t = tables.entry(id).or_default();
            let start = match key {
                None => 0,
                Some(k) => match t.index.get(&k.bits()) {
                    Some(&i) => i + 1,
                    None => return Err(Error::runtime("invalid key to 'next'")),
                },
            };
            t.order[start.min(t.order.len())..]
                .iter()
                .flatten()
                .next()
                .cloned()
        };
        Ok(found.map(|(k, v)| (self.0.decode(ctx, &k), self.0.decode(ctx, &v))))
    }

    fn length<'gc>(&self, ctx: Ctx<'gc>, id: u32) -> Result<i64, Error<'gc>> {
        let (n, probes) = border(0, |i| {
            Ok::<_, Error<'gc>>(self.0.lookup(id, &Stored::Int(i)).is_some())
        })?;
        ctx.charge_fuel(probes as i64);
        Ok(n)
    }

    fn as_any(&self) -> &dyn core::any::Any {
        self
    }
}

struct Capture(Rc<RefCell<Vec<u8>>>);

impl Host for Capture {
    fn write(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }
    fn warn(&mut self, _message: &[u8]) {}
    fn clock(&mut self) -> f64 {
        0.0
    }
    fn time(&mut self) -> i64 {
        0
    }
    fn random_seed(&mut self) -> u64 {
        7
    }
}

/// A state whose global `home` is external table 0 and `ext()` makes a new one.
fn state() -> (Lua, Rc<Memory>, Rc<RefCell<Vec<u8>>>) {
    let out = Rc::new(RefCell::new(Vec::new()));
    let memory = Rc::new(Memory::default());
    memory.next_id.set(1);
    let mut lua = Lua::new(Box::new(Capture(out.clone())));
    lua.enter(stdlib::open);
    lua.set_external(Rc::new(Shared(memory.clone())));
    lua.enter(|ctx| {
        let home = ctx.external_table(0);
        ctx.globals()
            .set_str(ctx.mc, ctx.intern(b"home"), Value::Table(home));
    });
    (lua, memory, out)
}

fn run_in(lua: &mut Lua, out: &RefCell<Vec<u8>>, source: &str) -> String {
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .expect("test programs compile");
    if let Step::Error(e) = lua.run() {
        let line = std::format!("error: {}\n", e.message);
        out.borrow_mut().extend_from_slice(line.as_bytes());
    }
    let bytes = core::mem::take(&mut *out.borrow_mut());
    String::from_utf8(bytes).expect("test output is text")
}

fn check(source: &str, expected: &str) {
    let (mut lua, _, out) = state();
    assert_eq!(run_in(&mut lua, &out, source.trim_start()), expected);
}

#[test]
fn reads_writes_and_deletes_reach_the_storage() {
    let (mut lua, memory, out) = state();
    let printed = run_in(
        &mut lua,
        &out,
        r#"
home.a = 1; home[2.0] = "two"; home["2"] = "string two"; home.gone = true
home.gone = nil
local k = "b"; home[k] = 3.5; home[true] = false
print(home.a, home[2], home["2"], home.gone, home.b, home[true], home.missing)
print(rawget(home, "a"), rawget(home, 2.0), rawget(home, nil))
"#,
    );
    assert_eq!(
        printed,
        "1\ttwo\tstring two\tnil\t3.5\tfalse\tnil\n1\ttwo\tnil\n"
    );
    let tables = memory.tables.borrow();
    let home = &tables[&0];
    let live = home.order.iter().flatten().count();
    assert_eq!(live, 5, "a, 2, '2', b and true are stored");
    assert_eq!(home.order[3], None, "gone is gone");
}

#[test]
fn next_and_rawlen_see_the_entries() {
    check(
        r#"
home.a = 1
print(next(home), rawlen(home), #home)
home[1] = "x"; home[2] = "y"; home[3] = "z"
print(rawlen(home), #home, select('#', table.unpack(home)))
local keys = {}
for k, v in pairs(home) do keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
print(table.concat(keys, " "))
for i, v in ipairs(home) do io.write(i, v, " ") end print()
local n = 0
for k in pairs(home) do home[k] = nil; n = n + 1 end
print(n, next(home), #home)
"#,
        "a\t0\t0\n3\t3\t3\na=1 1=x 2=y 3=z\n1x 2y 3z \n4\tnil\t0\n",
    );
}

#[test]
fn the_table_library_works_on_external_tables() {
    check(
        r#"
table.insert(home, "c"); table.insert(home, "a"); table.insert(home, 1, "b")
print(table.concat(home, ","), #home)
table.sort(home)
print(table.concat(home, ","))
print(table.remove(home, 1), table.remove(home), table.concat(home, ","), #home)
print(table.unpack(home))
table.move({"p", "q"}, 1, 2, 2, home)
print(table.concat(home, ","))
"#,
        "b,c,a\t3\na,b,c\na\tc\tb\t1\nb\nb,p,q\n",
    );
}

#[test]
fn types_identity_and_the_protected_metatable() {
    check(
        r#"
print(type(home), rawequal(home, home), home == home)
print(getmetatable(home))
print(pcall(setmetatable, home, {}))
print(pcall(debug.setmetatable, home, nil))
print(rawequal(home, {}))
"#,
        "table\ttrue\ttrue\nexternal table\nfalse\tcannot change a protected metatable\n\
         false\tcannot change the metatable of an external table\nfalse\n",
    );
}

#[test]
fn debug_getmetatable_gives_a_copy_that_changes_nothing() {
    check(
        r#"
home.other = {}
local mt = debug.getmetatable(home)
print(mt.__metatable, mt ~= debug.getmetatable(home.other))
mt.__metatable = nil
mt.__index = function() return "hijacked" end
mt.__newindex = nil
mt.__call = print
home.x = 1
print(home.x, home.other.y, getmetatable(home), pcall(home))
print(pcall(setmetatable, home, {}))
print(pcall(debug.setmetatable, home, mt))
local plain = debug.setmetatable({}, debug.getmetatable(home))
print(getmetatable(plain), getmetatable(home.other))
"#,
        "external table\ttrue\n1\tnil\texternal table\tfalse\tattempt to call a table value\n\
         false\tcannot change a protected metatable\n\
         false\tcannot change the metatable of an external table\n\
         external table\texternal table\n",
    );
}

#[test]
fn plain_tables_are_stored_by_reference_in_place() {
    let (mut lua, memory, out) = state();
    let printed = run_in(
        &mut lua,
        &out,
        r#"
local t = {x = 1, {y = 2}}
home.t = t; home.u = t
print(home.t == home.u, home.t == t, t.x, t[1].y, rawget(t, "x"), getmetatable(t))
t.z = 3
print(home.t.z, next(home.t) ~= nil)
t.self = t
print(home.t.self == t)
"#,
    );
    assert_eq!(
        printed,
        "true\ttrue\t1\t2\t1\texternal table\n3\ttrue\ntrue\n"
    );
    // t, t[1] and home: three tables in the storage, not in the arena.
    assert_eq!(memory.tables.borrow().len(), 3);
    assert_eq!(memory.tables.borrow()[&1].order.iter().flatten().count(), 4);
}

#[test]
fn external_tables_stay_one_table_per_id_through_collections() {
    let (mut lua, _, out) = state();
    run_in(
        &mut lua,
        &out,
        "home.sub = {} ; sub_id = tostring(home.sub)",
    );
    lua.collect_all();
    let printed = run_in(
        &mut lua,
        &out,
        r#"
local a = home.sub
collectgarbage()
print(a == home.sub, rawequal(a, home.sub))
"#,
    );
    assert_eq!(printed, "true\ttrue\n");
}

#[test]
fn bad_keys_and_values_are_errors_that_change_nothing() {
    let (mut lua, memory, out) = state();
    let printed = run_in(
        &mut lua,
        &out,
        r#"print(pcall(function() home[nil] = 1 end))
print(pcall(function() home[0/0] = 1 end))
print(pcall(rawset, home, nil, 1))
print(pcall(function() home.f = print end))
print(pcall(next, home, "nope"))
print(home[nil], home[0/0])
"#,
    );
    assert_eq!(
        printed,
        "false\ttest:1: table index is nil\nfalse\ttest:2: table index is NaN\n\
         false\ttable index is nil\nfalse\ttest:4: cannot store a function in an external table\n\
         false\tinvalid key to 'next'\nnil\tnil\n"
    );
    assert!(memory
        .tables
        .borrow()
        .get(&0)
        .is_none_or(|t| t.index.is_empty()));
}

#[test]
fn length_is_bounded_and_charged_to_fuel() {
    // Keys built to defeat a border search: powers of two up to 2^62 and both extremes.
    let (mut lua, memory, out) = state();
    let printed = run_in(
        &mut lua,
        &out,
        r#"
local k = 1
while k > 0 do home[k] = true k = k * 2 end
home[math.maxinteger] = true home[math.mininteger] = true
print(#home, #home == math.maxinteger, rawlen(home) == #home)
home[math.maxinteger] = nil
local n = #home
print(n >= 4611686018427387904, home[n] ~= nil, home[n + 1] == nil)
"#,
    );
    assert_eq!(
        printed,
        "9223372036854775807\ttrue\ttrue\ntrue\ttrue\ttrue\n"
    );
    assert!(
        memory.calls.get() < 1000,
        "{} host calls",
        memory.calls.get()
    );

    // A loop of `#` runs out of fuel: each probe counts as an instruction.
    lua.start_chunk(b"while true do local _ = #home end", b"=spin", &[])
        .unwrap();
    let before = memory.calls.get();
    assert!(matches!(lua.step(10_000), Step::Pending));
    let probes = memory.calls.get() - before;
    assert!(probes <= 10_200, "{probes} probes for 10,000 fuel");
}

#[test]
fn border_search_finds_a_border_in_few_probes() {
    let keys = |set: &'static [i64]| move |i: i64| Ok::<_, ()>(set.contains(&i));
    assert_eq!(border(0, keys(&[])), Ok((0, 1)));
    assert_eq!(border(0, keys(&[1, 2, 3])).map(|r| r.0), Ok(3));
    assert_eq!(border(3, keys(&[1, 2, 3])), Ok((3, 2)));
    assert_eq!(border(7, keys(&[1, 2, 3])).map(|r| r.0), Ok(3));
    assert_eq!(border(0, keys(&[i64::MAX])).map(|r| r.0), Ok(0));
    let (n, probes) = border(0, |i| Ok::<_, ()>(i <= 1_000_000)).unwrap();
    assert_eq!(n, 1_000_000);
    assert!(probes < 50);
    let (n, probes) = border(0, |i| Ok::<_, ()>(i > 0)).unwrap();
    assert_eq!(n, i64::MAX);
    assert!(probes < 70);
}
