# SPDX-License-Identifier: GPL-2.0-or-later
# Cross-building for arm64 (tests/e2e/run-arm64) with Debian's
# gcc-aarch64-linux-gnu against a sysroot of arm64 packages unpacked with
# dpkg -x: libxen-dev is not Multi-Arch, so the arm64 libraries cannot be
# installed beside the host's. The sysroot comes from the environment
# (XENREADY_SYSROOT), which also reaches CMake's try_compile runs.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
if(NOT DEFINED ENV{XENREADY_SYSROOT})
    message(FATAL_ERROR "set XENREADY_SYSROOT to the unpacked arm64 root")
endif()
set(CMAKE_SYSROOT "$ENV{XENREADY_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(ENV{PKG_CONFIG_LIBDIR}
    "${CMAKE_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${CMAKE_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CMAKE_SYSROOT}")
set(ENV{PKG_CONFIG_PATH} "")
