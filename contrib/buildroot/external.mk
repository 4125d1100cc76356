include $(sort $(wildcard $(BR2_EXTERNAL_MAILNOOK_PATH)/package/*/*.mk))
