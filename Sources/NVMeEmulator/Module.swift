// placeholder so the target exists until its module is written
