"""Media: safe processing of uploaded images and where their files live.

Other domains call :func:`trustseal.media.images.process_photo` and the storage in
:mod:`trustseal.media.storage`.
"""
