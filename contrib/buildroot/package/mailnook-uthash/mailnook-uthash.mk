################################################################################
#
# mailnook-uthash: uthash's headers in the staging directory, for mailnook
#
################################################################################

MAILNOOK_UTHASH_VERSION = 2.3.0
MAILNOOK_UTHASH_SOURCE = v$(MAILNOOK_UTHASH_VERSION).tar.gz
MAILNOOK_UTHASH_SITE = https://github.com/troydhanson/uthash/archive
MAILNOOK_UTHASH_LICENSE = BSD-1-Clause
MAILNOOK_UTHASH_LICENSE_FILES = LICENSE
MAILNOOK_UTHASH_INSTALL_STAGING = YES
MAILNOOK_UTHASH_INSTALL_TARGET = NO

define MAILNOOK_UTHASH_INSTALL_STAGING_CMDS
	$(INSTALL) -d $(STAGING_DIR)/usr/include
	$(INSTALL) -m 0644 $(@D)/src/*.h $(STAGING_DIR)/usr/include/
endef

$(eval $(generic-package))
