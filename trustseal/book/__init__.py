"""The complaints and praise book: Peru's virtual Libro de Reclamaciones plus felicitaciones.

Ley 29571 (Código de Protección y Defensa del Consumidor), its Reglamento del Libro de
Reclamaciones (D.S. 011-2011-PCM and amendments) and Ley 31435 (15 business days to
answer, not extendable). Other domains use :mod:`trustseal.book.service`.
"""
