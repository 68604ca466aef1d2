/* The Lua sandbox shared by the config loader and the policy engine.
 *
 * Each sandbox is its own lua_State, so one policy can never see or change
 * another's globals. Only `string` (without `dump`), `table`, `math`, `utf8` and the
 * safe base functions are visible; chunks are loaded as source text only. Memory is
 * capped by a counting allocator and CPU by an instruction-count hook. Once either
 * limit is hit the sandbox stays "tripped": the hook raises again every few
 * instructions and the allocator refuses, so a `pcall` inside untrusted code cannot
 * swallow the fault, and fb_sandbox_call reports failure even if the code returned. */
#ifndef FB_LUA_SANDBOX_H
#define FB_LUA_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

typedef struct fb_sandbox fb_sandbox;

/* Creates a sandbox whose heap may not exceed `mem_max` bytes. NULL on failure. */
fb_sandbox *fb_sandbox_new(size_t mem_max);
void fb_sandbox_free(fb_sandbox *sb);
lua_State *fb_sandbox_state(fb_sandbox *sb);

/* Loads `len` bytes of source text named `chunkname` (e.g. "@policies/MYS.lua") and
 * runs it with an instruction budget. Binary chunks are refused. On failure returns
 * -1 and sets *err to a malloc'd message ("MYS.lua:12: ..."). */
int fb_sandbox_run(fb_sandbox *sb, const char *src, size_t len, const char *chunkname,
                   long instr_budget, char **err);

/* Calls the function below `nargs` arguments on the stack like lua_pcall, under an
 * instruction budget and the memory cap. Returns 0 on success (results left on the
 * stack) or -1 with *err set (nothing left on the stack). */
int fb_sandbox_call(fb_sandbox *sb, int nargs, int nresults, long instr_budget, char **err);

/* Bytes currently allocated by the sandbox's Lua heap. */
size_t fb_sandbox_mem_used(const fb_sandbox *sb);

/* True when the last run or call hit the instruction or memory limit. */
bool fb_sandbox_tripped(const fb_sandbox *sb);

#endif
