[%%migrations "no_such_dir"]
