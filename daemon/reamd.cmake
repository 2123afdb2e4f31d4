# reamd: the long-running service (issue 5). Included from daemon/CMakeLists.txt.
#   reamd_http    Beast listener/sessions, router, auth, SSE, multipart
#   reamd_cron    cron expressions, TZif time zones, the planner, the scheduler and the
#                 schedule service (API schedules as resources)
#   reamd_openai  the OpenAI-compatible protocol (daemon/src/openai)
#   reamd_upstream OpenAI-compatible upstreams: pool, routing, health, proxy (daemon/src/upstream)
#   reamd_core    config, App (reamd assembled), API handlers
# (ream_jobs, the job lifecycle, is in daemon/CMakeLists.txt: `ream run` uses it too.)
#   reamd         the executable (daemon/src/main.cpp)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

add_library(reamd_http STATIC
  src/http/auth.cpp src/http/errors.cpp src/http/limits.cpp src/http/message.cpp src/http/multipart.cpp
  src/http/router.cpp src/http/server.cpp src/http/sse.cpp src/http/static_files.cpp
  ${CMAKE_CURRENT_BINARY_DIR}/web_files.cpp)
# The web app (web/) compiled into reamd: nothing is read from disk or fetched to serve it.
# pdf.js (.deps/pdfjs, fetched by scripts/setup.sh) goes in with it when present.
file(GLOB REAMD_WEB_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/web/* ${PROJECT_SOURCE_DIR}/.deps/pdfjs/*.mjs)
add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/web_files.cpp
  COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${PROJECT_SOURCE_DIR}/web -DOUT=${CMAKE_CURRENT_BINARY_DIR}/web_files.cpp
          -DPDFJS_DIR=${PROJECT_SOURCE_DIR}/.deps/pdfjs -P ${PROJECT_SOURCE_DIR}/cmake/embed_web.cmake
  DEPENDS ${REAMD_WEB_FILES} ${PROJECT_SOURCE_DIR}/cmake/embed_web.cmake
  COMMENT "Embedding the web app (web/)")
target_include_directories(reamd_http PUBLIC ${REAM_DAEMON_SRC})
target_link_libraries(reamd_http
  PUBLIC ream_common ream_metrics Boost::headers nlohmann_json::nlohmann_json
  PRIVATE OpenSSL::SSL OpenSSL::Crypto spdlog::spdlog Threads::Threads)
target_compile_definitions(reamd_http PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_compile_options(reamd_http PRIVATE -Wall -Wextra)

add_library(reamd_cron STATIC
  src/cron/cron.cpp src/cron/tz.cpp src/cron/planner.cpp src/cron/scheduler.cpp
  src/cron/schedule_spec.cpp src/cron/schedule_service.cpp)
target_include_directories(reamd_cron PUBLIC ${REAM_DAEMON_SRC})
target_link_libraries(reamd_cron
  PUBLIC ream_store ream_common nlohmann_json::nlohmann_json PRIVATE spdlog::spdlog)
target_compile_options(reamd_cron PRIVATE -Wall -Wextra)

# The OpenAI-compatible protocol (request parsing, prompts and tools, tool-call parsing,
# logprobs, response shapes, running an API call's engine requests); no App, no store.
file(GLOB REAMD_OPENAI_SOURCES CONFIGURE_DEPENDS ${REAM_DAEMON_SRC}/openai/*.cpp)
add_library(reamd_openai STATIC ${REAMD_OPENAI_SOURCES})
target_include_directories(reamd_openai PUBLIC ${REAM_DAEMON_SRC})
target_link_libraries(reamd_openai PUBLIC reamd_http ream::engine nlohmann_json::nlohmann_json
  PRIVATE spdlog::spdlog)
target_compile_options(reamd_openai PRIVATE -Wall -Wextra)

# OpenAI-compatible upstreams (daemon/src/upstream): the HTTP client, the pool (routing,
# health, metrics), workflow steps and proxied API calls sent to them.
add_library(reamd_upstream STATIC
  src/upstream/http_client.cpp src/upstream/pool.cpp src/upstream/exchange.cpp
  src/upstream/model_client.cpp src/upstream/proxy.cpp)
target_include_directories(reamd_upstream PUBLIC ${REAM_DAEMON_SRC})
target_link_libraries(reamd_upstream
  PUBLIC reamd_http ream_flow ream_metrics ream::engine nlohmann_json::nlohmann_json
  PRIVATE OpenSSL::SSL OpenSSL::Crypto spdlog::spdlog Threads::Threads)
target_compile_options(reamd_upstream PRIVATE -Wall -Wextra)

file(GLOB REAMD_CORE_SOURCES CONFIGURE_DEPENDS
     ${REAM_DAEMON_SRC}/api/*.cpp ${REAM_DAEMON_SRC}/config/*.cpp)
add_library(reamd_core STATIC ${REAMD_CORE_SOURCES})
target_include_directories(reamd_core PUBLIC ${REAM_DAEMON_SRC})
target_link_libraries(reamd_core
  PUBLIC ream_jobs reamd_http reamd_openai reamd_upstream reamd_cron ream_flow_engine ream_flow ream_plugin_host ream_store ream::engine
  PRIVATE ream_engine_internal yaml-cpp spdlog::spdlog Threads::Threads)
target_compile_options(reamd_core PRIVATE -Wall -Wextra)

add_executable(reamd src/main.cpp)
target_link_libraries(reamd PRIVATE reamd_core PkgConfig::SYSTEMD spdlog::spdlog)
target_compile_options(reamd PRIVATE -Wall -Wextra)
install(TARGETS reamd RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/etc/reamd.yaml DESTINATION etc/ream)
