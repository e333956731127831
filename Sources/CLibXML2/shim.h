#ifndef LEDGERBRIDGE_CLIBXML2_SHIM_H
#define LEDGERBRIDGE_CLIBXML2_SHIM_H
#include <libxml/xmlreader.h>
#include <libxml/parser.h>

/// xmlFree is a global function pointer, which Swift 6 cannot touch safely; call it from C.
static inline void lb_xmlFree(void *p) { xmlFree(p); }
#endif
