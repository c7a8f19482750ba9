/* libedit's readline-compatible interface (Debian libedit-dev), for the s2emu REPL.
 * stdio.h must come first: editline/readline.h uses FILE without including it. */
#ifndef CEDITLINE_SHIM_H
#define CEDITLINE_SHIM_H
#include <stdio.h>
#include <editline/readline.h>

/* Swift 6 rejects direct use of mutable C globals; these accessors are the only way the REPL touches them. */
static inline void ceditline_set_completion(rl_completion_func_t *f) { rl_attempted_completion_function = f; }
static inline const char *ceditline_line_buffer(void) { return rl_line_buffer; }
static inline void ceditline_set_name(const char *name) { rl_readline_name = name; }
#endif
