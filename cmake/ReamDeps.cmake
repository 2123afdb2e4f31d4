# Third-party dependencies, all from Debian 12 packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
# libpq (libpq-dev): the PostgreSQL store's client (daemon/src/store/pg.h) and its tests.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
