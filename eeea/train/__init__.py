"""``eeea train``: the trainer (:mod:`.trainer`), its configuration and recipes (:mod:`.config`) and the image data of
full trainings (:mod:`.data`). ``train/`` never imports ``search/``."""
