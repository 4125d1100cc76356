################################################################################
#
# mailnook
#
# contrib/buildroot is a BR2_EXTERNAL tree:
#   make BR2_EXTERNAL=/path/to/mailnook/contrib/buildroot menuconfig
# then "External options" > mailnook.  The source is the checkout the tree
# belongs to (MAILNOOK_OVERRIDE_SRCDIR in local.mk picks another).
#
################################################################################

MAILNOOK_VERSION = 0.1.0
MAILNOOK_SITE = $(BR2_EXTERNAL_MAILNOOK_PATH)/../..
MAILNOOK_SITE_METHOD = local
MAILNOOK_DEPENDENCIES = mailnook-uthash

ifeq ($(BR2_PACKAGE_MAILNOOK_TLS),y)
MAILNOOK_DEPENDENCIES += bearssl
MAILNOOK_TLS = CONFIG_TLS=y
else
MAILNOOK_TLS = \# CONFIG_TLS is not set
endif
ifeq ($(BR2_TOOLCHAIN_HAS_IPV6),y)
MAILNOOK_IPV6 = CONFIG_IPV6=y
else
MAILNOOK_IPV6 = \# CONFIG_IPV6 is not set
endif

# .config: the router defaults (configs/defconfig) with the menu's choices.
define MAILNOOK_CONFIGURE_CMDS
	sed -e '/^CONFIG_TLS=/d' -e '/CONFIG_TLS is not set/d' \
	    -e '/^CONFIG_IPV6=/d' -e '/CONFIG_IPV6 is not set/d' \
	    -e 's/^CONFIG_MAX_SESSIONS=.*/CONFIG_MAX_SESSIONS=$(BR2_PACKAGE_MAILNOOK_MAX_SESSIONS)/' \
	    $(@D)/configs/defconfig > $(@D)/.config
	echo '$(MAILNOOK_TLS)' >> $(@D)/.config
	echo '$(MAILNOOK_IPV6)' >> $(@D)/.config
endef

# Sections per function and --gc-sections: only the parts of BearSSL that
# mailnook calls are linked in.  Buildroot's BearSSL may put its headers in
# include/bearssl/.
define MAILNOOK_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(TARGET_CONFIGURE_OPTS) \
		CFLAGS="$(TARGET_CFLAGS) -ffunction-sections -fdata-sections" \
		CPPFLAGS="$(TARGET_CPPFLAGS) -I$(STAGING_DIR)/usr/include/bearssl" \
		LDFLAGS="$(TARGET_LDFLAGS) -Wl,--gc-sections" \
		BUILD=build/buildroot BIN=mailnook mailnook
endef

define MAILNOOK_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/mailnook $(TARGET_DIR)/usr/sbin/mailnook
	$(INSTALL) -D -m 0644 $(@D)/examples/mailnook.conf $(TARGET_DIR)/etc/mailnook.conf
endef

define MAILNOOK_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/contrib/sysvinit/mailnook \
		$(TARGET_DIR)/etc/init.d/S50mailnook
endef

define MAILNOOK_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/contrib/systemd/mailnook.service \
		$(TARGET_DIR)/usr/lib/systemd/system/mailnook.service
endef

define MAILNOOK_USERS
	mailnook -1 mailnook -1 * /var/lib/mailnook - - mailnook SMTP server
endef

$(eval $(generic-package))
