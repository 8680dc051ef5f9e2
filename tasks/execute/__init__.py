"""Execute: the original code runs on each input in the sandbox and the outcomes become tests;
its helpers keep only tests the prompt states (checks, stated exceptions) and write
instructions from executed examples."""
