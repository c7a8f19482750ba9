/* libelf (elfutils) and gelf for Swift: the headers, plus wrappers for what Swift cannot import. */
#ifndef CLIBELF_SHIM_H
#define CLIBELF_SHIM_H
#include <libelf.h>
#include <gelf.h>
#include <elf.h>

/* EV_CURRENT typed as elf_version() takes it. */
static const unsigned int clibelf_ev_current = EV_CURRENT;

/* GELF_ST_TYPE / GELF_ST_INFO are function-like macros, which Swift does not import. */
static inline unsigned char clibelf_st_type(unsigned char info) { return GELF_ST_TYPE(info); }
static inline unsigned char clibelf_st_info(unsigned char bind, unsigned char type) {
    return GELF_ST_INFO(bind, type);
}

#endif
