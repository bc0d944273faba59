"""Plain values and rules of Sandlot: no I/O, no SQL, no HTTP."""
