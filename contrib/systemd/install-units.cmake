# Install-time step of `cmake --install` and cpack (see the top-level
# CMakeLists.txt): copy the systemd units with ExecStart= naming the binary
# of the prefix actually installed to, which is only known now (--prefix,
# or /usr under cpack). Set before this runs: MPSERVER_UNITS_SRC (this
# directory), MPSERVER_UNITS (file names), MPSERVER_UNITS_BINDIR and
# MPSERVER_UNITS_DIR (each relative to the prefix or absolute), and
# MPSERVER_UNITS_SCRATCH (a directory of the build tree for the rewritten
# copies). file(INSTALL) honours DESTDIR and records the manifest.

foreach(_mp_var BINDIR DIR)
	if(IS_ABSOLUTE "${MPSERVER_UNITS_${_mp_var}}")
		set(_mp_${_mp_var} "${MPSERVER_UNITS_${_mp_var}}")
	else()
		set(_mp_${_mp_var} "${CMAKE_INSTALL_PREFIX}/${MPSERVER_UNITS_${_mp_var}}")
	endif()
endforeach()

# One scratch directory per prefix, so installs to two prefixes at once
# (the tests do) never write the same file.
string(MD5 _mp_tag "${CMAKE_INSTALL_PREFIX}")
set(_mp_tmp "${MPSERVER_UNITS_SCRATCH}/${_mp_tag}")
file(MAKE_DIRECTORY "${_mp_tmp}")
foreach(_mp_unit IN LISTS MPSERVER_UNITS)
	file(READ "${MPSERVER_UNITS_SRC}/${_mp_unit}" _mp_text)
	string(REPLACE "/usr/local/bin/mpserver" "${_mp_BINDIR}/mpserver"
		_mp_text "${_mp_text}")
	# The configuration is /etc's under /usr, PREFIX/etc's elsewhere, as
	# the top-level install rule puts it.
	if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
		string(REPLACE " /etc/mpserver.conf"
			" ${CMAKE_INSTALL_PREFIX}/etc/mpserver.conf"
			_mp_text "${_mp_text}")
	endif()
	file(WRITE "${_mp_tmp}/${_mp_unit}" "${_mp_text}")
	file(INSTALL "${_mp_tmp}/${_mp_unit}" DESTINATION "${_mp_DIR}"
		FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
