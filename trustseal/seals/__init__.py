"""The "Sello de Confianza Online": certification criteria and the seal lifecycle.

Other domains use :mod:`trustseal.seals.service`.
"""
