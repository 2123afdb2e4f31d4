/* Broken plugins for the host's refusal tests, one per BAD_KIND:
 *   1: built for a future ABI version (999)
 *   2: the entry refuses the host's version (returns NULL)
 *   3: no entry symbol at all
 *   4: an invalid name
 *   5: a params schema that is not JSON */
#include "ream/plugin.h"

static ream_status noop_plan(const ream_host* h, ream_call* c, const ream_plan_input* i) {
  (void)h; (void)c; (void)i;
  return REAM_OK;
}
static ream_status noop_reduce(const ream_host* h, ream_call* c, const ream_reduce_input* i) {
  (void)h; (void)c; (void)i;
  return REAM_OK;
}

#if BAD_KIND == 1
static const ream_plugin kPlugin = {sizeof(ream_plugin), 999u, REAM_LITERAL("future"), REAM_LITERAL("1.0"),
                                    REAM_LITERAL(""), {0, 0}, {0, 0}, noop_plan, noop_reduce};
REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t v) { (void)v; return &kPlugin; }
#elif BAD_KIND == 2
REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t v) { (void)v; return 0; }
#elif BAD_KIND == 3
REAM_PLUGIN_EXPORT int not_the_entry(void) { return 0; }
#elif BAD_KIND == 4
static const ream_plugin kPlugin = {sizeof(ream_plugin), REAM_PLUGIN_ABI_VERSION, REAM_LITERAL("Bad Name"),
                                    REAM_LITERAL("1.0"), REAM_LITERAL(""), {0, 0}, {0, 0}, noop_plan, noop_reduce};
REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t v) { (void)v; return &kPlugin; }
#elif BAD_KIND == 5
static const ream_plugin kPlugin = {sizeof(ream_plugin), REAM_PLUGIN_ABI_VERSION, REAM_LITERAL("badschema"),
                                    REAM_LITERAL("1.0"), REAM_LITERAL(""), REAM_LITERAL("{not json"), {0, 0},
                                    noop_plan, noop_reduce};
REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(uint32_t v) { (void)v; return &kPlugin; }
#endif
