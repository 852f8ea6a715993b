/** A reference to an external table, by id (a result deeper than the engine inlines). */
export class LuaTableRef {
  constructor(id: number);
  id: number;
}

/** A Lua value JS cannot hold (a function, coroutine or userdata): its type name. */
export class LuaOpaque {
  constructor(type: string);
  type: string;
}

/**
 * A Lua value as it reaches JS: nil is null; integers are numbers, or BigInts beyond 2^53;
 * strings that are not UTF-8 are Uint8Arrays; a table is an Array when its keys are exactly
 * 1..n, else a Map (an external table not inlined is a LuaTableRef).
 */
export type LuaValue =
  | null | boolean | number | bigint | string | Uint8Array
  | LuaTableRef | LuaOpaque | LuaValue[] | Map<LuaValue, LuaValue>;
