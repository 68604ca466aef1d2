/* The Lua sandbox shared by the config loader and the policy engine.
 *
 * Each sandbox is its own lua_State, so one policy can never see or change
 * another's globals. Only `string` (without `dump`), `table`, `math`, `utf8` and the
 * safe base functions are visible; chunks are loaded as source text only.
 *
 * Three limits apply while untrusted code runs:
 * - memory: a counting allocator refuses growth past `mem_max`;
 * - work: an instruction budget, charged by the VM's count hook and also by every
 *   byte the Lua heap allocates (1 instruction per FB_SANDBOX_BYTES_PER_INSTR), so
 *   that string.rep, gsub, format, table.concat and `..` pay for what they produce;
 *   the C functions of `string`, `table` and `utf8` are wrapped and charged for the
 *   input they scan or move (a table.sort of n items costs n log n);
 * - wall clock: a time budget (fb_sandbox_set_time_budget), read from the coarse
 *   monotonic clock in the count hook, before every wrapped C function and on large
 *   allocations.
 * Lua's pattern matcher backtracks in C where no hook reaches it, so find, match,
 * gmatch and gsub refuse a pattern whose worst case on the given text exceeds
 * FB_SANDBOX_PATTERN_MAX_STEPS (quantifiers *, +, -, ? and back-references
 * multiply; see fb_sandbox_pattern_cost).
 *
 * Once a limit is hit the sandbox stays "tripped": the hook raises again every
 * instruction, the wrappers raise and the allocator refuses, so a `pcall` inside
 * untrusted code cannot swallow the fault, and fb_sandbox_call reports failure even
 * if the code returned. */
#ifndef FB_LUA_SANDBOX_H
#define FB_LUA_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

typedef struct fb_sandbox fb_sandbox;

#define FB_SANDBOX_BYTES_PER_INSTR   16     /* heap bytes allocated that cost one instruction */
#define FB_SANDBOX_TIME_MS           1000   /* default wall-clock budget of a run or call */
#define FB_SANDBOX_PATTERN_MAX_STEPS 1e7    /* worst-case matcher steps of one pattern call */

/* Creates a sandbox whose heap may not exceed `mem_max` bytes. NULL on failure. */
fb_sandbox *fb_sandbox_new(size_t mem_max);
void fb_sandbox_free(fb_sandbox *sb);
lua_State *fb_sandbox_state(fb_sandbox *sb);

/* The wall-clock budget of each following run or call, in milliseconds (default
 * FB_SANDBOX_TIME_MS). */
void fb_sandbox_set_time_budget(fb_sandbox *sb, long ms);

/* Loads `len` bytes of source text named `chunkname` (e.g. "@policies/MYS.lua") and
 * runs it with an instruction budget. Binary chunks are refused. On failure returns
 * -1 and sets *err to a malloc'd message ("MYS.lua:12: ..."). */
int fb_sandbox_run(fb_sandbox *sb, const char *src, size_t len, const char *chunkname,
                   long instr_budget, char **err);

/* Calls the function below `nargs` arguments on the stack like lua_pcall, under an
 * instruction budget and the memory cap. Returns 0 on success (results left on the
 * stack) or -1 with *err set (nothing left on the stack). */
int fb_sandbox_call(fb_sandbox *sb, int nargs, int nresults, long instr_budget, char **err);

/* Explains the read of an undefined global `name` better than the default (a policy
 * names the word it could have meant): raises with luaL_error, or returns to leave it
 * to the default message. */
typedef void (*fb_sandbox_explain_fn)(lua_State *L, const char *name, void *ud);

/* Strict globals: from now on, reading a global that nothing defined raises instead of
 * giving nil. A config's `log_level = debug` or a policy's `from = BGD` without quotes
 * would otherwise read nil and silently drop the setting or the condition. A library
 * the sandbox leaves out (io, os, require, ...) reads as "io is not available in
 * WHERE"; any other name as "NAME is not defined (write words in quotes, like
 * "NAME")", unless `explain` (may be NULL; `ud` is passed to it) raised first.
 * `where` is copied ("policies (they run in a sandbox)"). An existing metatable of the
 * global table keeps its other fields. */
void fb_sandbox_strict_globals(fb_sandbox *sb, const char *where, fb_sandbox_explain_fn explain, void *ud);

/* Bytes currently allocated by the sandbox's Lua heap. */
size_t fb_sandbox_mem_used(const fb_sandbox *sb);

/* True when the last run or call hit the instruction, time or memory limit. */
bool fb_sandbox_tripped(const fb_sandbox *sb);

/* Worst-case steps of Lua's matcher for `pat` on a text of `n` bytes: every
 * quantified item (*, +, -) and back-reference multiplies by n+1, every `?` by 2,
 * %b by n+1; an unanchored pattern (or any gmatch, `all_starts`) by n+1 for the start
 * positions; times the number of items. Stops counting past `cap`. */
double fb_sandbox_pattern_cost(const char *pat, size_t plen, size_t n, bool all_starts, double cap);

#endif
