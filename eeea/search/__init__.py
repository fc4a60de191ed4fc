"""The search engine: EE-PI (:mod:`.eepi`) -> optimiser ask/tell (:mod:`.loop`) -> executor (:mod:`.executors`) ->
archive of evaluations (:mod:`.archive`), configured by :mod:`.config`. ``search/`` never imports ``train/``."""
