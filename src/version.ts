/** This release; `--version` prints it, the probe reports it. */
export const VERSION = "0.2.0";
