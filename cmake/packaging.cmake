# The Debian package: `cpack -G DEB` in the release build dir writes
# stockgrid_<version>_amd64.deb holding the programs (install rules in
# app/ and client/), the example config as the conffile
# /etc/stockgrid/stockgrid.conf, the systemd unit and the maintainer scripts
# from deploy/. docs/operations.md, "Installing from the .deb"; the content is
# checked by tests/deploy/package_test.sh.

# The example config, with the data dir the unit uses: every other key keeps
# its default, so the installed file documents every setting.
set(example_config ${CMAKE_SOURCE_DIR}/config/stockgrid.conf.example)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${example_config})
file(READ ${example_config} example_text)
string(REPLACE "data-dir = \"./data\"" "data-dir = \"/var/lib/stockgrid\"" packaged_text "${example_text}")
if(packaged_text STREQUAL example_text)
  message(FATAL_ERROR "packaging: no `data-dir = \"./data\"` line in ${example_config} to point at /var/lib/stockgrid")
endif()
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/deploy/stockgrid.conf CONTENT "${packaged_text}")

install(FILES ${CMAKE_BINARY_DIR}/deploy/stockgrid.conf DESTINATION /etc/stockgrid)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/stockgrid.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/operations.md
        ${CMAKE_SOURCE_DIR}/deploy/alerts.yml
        DESTINATION share/doc/stockgrid)

set(CPACK_PACKAGE_NAME stockgrid)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time multi-tenant inventory grid node")
set(CPACK_PACKAGE_CONTACT "stockgrid maintainers <maintainers@users.noreply.r-seed-847ede74.example>")
# The build's binaries carry debug info (RelWithDebInfo: hundreds of MB).
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "Every stock record is an actor holding its stock in memory; every change is\njournaled to SQLite before it is acknowledged. Clients and dashboards speak\nmsgpack or JSON over WebSocket. Contains the stockgrid node and stockctl.")
# dpkg-shlibdeps (dpkg-dev) computes the shared-library dependencies;
# postinst needs useradd and groupadd.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles
  ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
  ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
