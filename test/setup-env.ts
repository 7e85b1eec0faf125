// The SDK warns once per process about Node 20 support ending in 2027; tests run on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.IM_LOG_LEVEL ??= 'silent';
