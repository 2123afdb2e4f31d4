/* ream plugin SDK: REAM_DEFINE_PLUGIN, the descriptor and entry point every plugin
 * otherwise writes out by hand (see ream/plugin.h for what they mean).
 *
 *   static const char kParams[] = "{\"type\": \"object\", ...}";
 *   static const char kOutputs[] = "{\"count\": {\"type\": \"integer\"}}";
 *   ...plan and reduce...
 *   REAM_DEFINE_PLUGIN("my_plugin", "1.0.0", "What it does, in one paragraph.",
 *                      kParams, kOutputs, plan, reduce)
 *
 * name, version and description are string literals; params_schema and
 * outputs_schema are string literals or char arrays holding JSON text (arrays, not
 * pointers: their length is their sizeof, and a pointer is refused at compile time);
 * plan and reduce are the callbacks. It defines a static, immutable `ream_plugin`
 * and REAM_PLUGIN_ENTRY, which returns it to a host of this header's
 * REAM_PLUGIN_ABI_VERSION and NULL to any other. Use it once, at file scope (in C++
 * outside any namespace), in one source file of the plugin. C and C++.
 */
#ifndef REAM_PLUGIN_DESCRIPTOR_H_
#define REAM_PLUGIN_DESCRIPTOR_H_

#include "ream/plugin.h"

#ifdef __cplusplus
#include <type_traits>
#define REAM_PLUGIN_EXTERN_C_ extern "C"
#define REAM_PLUGIN_ASSERT_ARRAY_(s)                                              \
  static_assert(std::is_array<std::remove_reference_t<decltype(s)>>::value,      \
                #s " must be a string literal or a char array, not a pointer")
#elif defined(__GNUC__)
#define REAM_PLUGIN_EXTERN_C_
#define REAM_PLUGIN_ASSERT_ARRAY_(s)                                              \
  _Static_assert(!__builtin_types_compatible_p(__typeof__(s), const char*) &&    \
                     !__builtin_types_compatible_p(__typeof__(s), char*),         \
                 #s " must be a string literal or a char array, not a pointer")
#else
#define REAM_PLUGIN_EXTERN_C_
#define REAM_PLUGIN_ASSERT_ARRAY_(s) extern int ream_plugin_unchecked_array_
#endif

#define REAM_DEFINE_PLUGIN(name, version, description, params_schema, outputs_schema, plan, reduce) \
  REAM_PLUGIN_ASSERT_ARRAY_(params_schema);                                                         \
  REAM_PLUGIN_ASSERT_ARRAY_(outputs_schema);                                                        \
  static const ream_plugin ream_plugin_descriptor_ = {                                              \
      sizeof(ream_plugin), REAM_PLUGIN_ABI_VERSION, REAM_LITERAL(name), REAM_LITERAL(version),     \
      REAM_LITERAL(description), REAM_LITERAL(params_schema), REAM_LITERAL(outputs_schema),        \
      plan, reduce};                                                                                \
  REAM_PLUGIN_EXTERN_C_ REAM_PLUGIN_EXPORT const ream_plugin* REAM_PLUGIN_ENTRY(                    \
      uint32_t host_abi_version) {                                                                  \
    return host_abi_version == REAM_PLUGIN_ABI_VERSION ? &ream_plugin_descriptor_ : NULL;          \
  }

#endif /* REAM_PLUGIN_DESCRIPTOR_H_ */
