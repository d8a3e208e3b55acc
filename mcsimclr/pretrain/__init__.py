"""Contrastive pretraining (MC-SimCLR): config, Lightning module and data, and the run itself."""
